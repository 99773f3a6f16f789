using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// BitLinear as one autograd node that saves only its inputs (x, γ, W) and recomputes the norm
/// and both quantizers in the backward pass: the memory trick of the paper's fused kernel. The
/// normalised and quantised activations, the largest tensors of the layer, never outlive forward.
/// Gradients: straight-through for both roundings, the ordinary RMSNorm gradient to x and γ.
/// </summary>
internal sealed class BitLinearFunction : autograd.SingleTensorFunction<BitLinearFunction>
{
    public override string Name => "BitLinearRecompute";

    /// <summary>y = quant(RMSNorm(x; γ)) · ternary(W)ᵀ.</summary>
    public static Tensor Apply(Tensor x, Tensor gamma, Tensor weight) => apply(x, gamma, weight);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, gamma, weight) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
        ctx.save_for_backward([x, gamma, weight]);
        using var scope = NewDisposeScope();
        var xq = Quantizers.Activations(Quantizers.RmsNorm(x, gamma, Quantizers.BitLinearNormEps)); // (..., in)
        var wq = Quantizers.Weights(weight);                                                          // (out, in)
        return nn.functional.linear(xq, wq).MoveToOuterDisposeScope();                                // (..., out)
    }

    // Called from libtorch's autograd engine: nothing may be thrown from here (see SafeBackward).
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput) =>
        SafeBackward.Guard(Name, inputs: 3, () => Backward(ctx, gradOutput));

    private static List<Tensor> Backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        GradientHandoff.ReleasePrevious();
        List<Tensor> saved = ctx.get_saved_variables();
        using var scope = NewDisposeScope();
        var (x, gamma, weight) = (saved[0], saved[1], saved[2]);

        long inFeatures = weight.shape[1], outFeatures = weight.shape[0];
        var x2 = x.reshape(-1, inFeatures);                                                  // (N, in)
        var gy = gradOutput.reshape(-1, outFeatures);                                         // (N, out)
        using var epsilon = Quantizers.BitLinearNormEps.ToScalar();
        var rstd = x2.Squared().mean([-1], keepdim: true).Plus(epsilon).rsqrt();             // (N, 1)
        var normed = x2 * rstd;                                                               // (N, in)
        var xq = Quantizers.Activations(normed * gamma);                                      // (N, in)
        var wq = Quantizers.Weights(weight);                                                  // (out, in)

        var gradXq = gy.mm(wq);                                 // (N, in)   straight through the activation rounding
        var gradWeight = gy.t().mm(xq);                         // (out, in) straight through the weight rounding
        var gradGamma = (gradXq * normed).sum(dim: 0);          // (in)
        var gradNormed = gradXq * gamma;                        // (N, in)
        var gradX = rstd * (gradNormed - normed * (gradNormed * normed).mean([-1], keepdim: true)); // (N, in)
        var gradients = GradientHandoff.Hand(gradX.reshape(x.shape), gradGamma, gradWeight);
        // Our handles on the incoming gradient and the saved inputs; libtorch keeps its own.
        gradOutput.Dispose();
        foreach (Tensor t in saved) t.Dispose();
        return gradients;
    }
}
