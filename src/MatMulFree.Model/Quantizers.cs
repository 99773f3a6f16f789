using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// The two fake quantizers of BitLinear, written exactly as the authors' kernels compute them
/// (fp32, round half to even), plus the RMSNorm every BitLinear applies first.
/// </summary>
internal static class Quantizers
{
    /// <summary>BitLinear's own norm uses 1e-6 whatever the config says: it is fixed in the released kernels.</summary>
    public const double BitLinearNormEps = 1e-6;

    // The quantizers' constants as Scalars that are never finalized mid-call (see TorchScalars).
    private static readonly Scalar ActivationLevels = 127.0.ToScalar(), ActivationMin = (-128).ToScalar(), ActivationMax = 127.ToScalar();
    private static readonly Scalar WeightMin = (-1).ToScalar(), WeightMax = 1.ToScalar(), ScaleFloor = 1e-5.ToScalar();

    public static Tensor RmsNorm(Tensor x, Tensor gamma, double eps)
    {
        using var scope = NewDisposeScope();
        using var epsilon = eps.ToScalar();
        var rstd = x.Squared().mean([-1], keepdim: true).Plus(epsilon).rsqrt(); // (..., 1)
        return (x * rstd * gamma).MoveToOuterDisposeScope();                     // (..., in)
    }

    /// <summary>Per row, 8-bit absmax: values on the grid k/s_x, k in [-128, 127].</summary>
    public static Tensor Activations(Tensor x)
    {
        using var scope = NewDisposeScope();
        var scale = x.abs().amax([-1], keepdim: true).clamp_min(ScaleFloor).reciprocal().mul(ActivationLevels); // (..., 1) 127 / absmax
        return ((x * scale).round().clamp(ActivationMin, ActivationMax) / scale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per tensor, ternary absmean: T/s_w with T in {-1, 0, 1}. Not idempotent (the mean of |W̃|
    /// counts the zeros), so it must only ever be applied to latent weights.
    /// </summary>
    public static Tensor Weights(Tensor w)
    {
        using var scope = NewDisposeScope();
        var scale = w.abs().mean().clamp_min(ScaleFloor).reciprocal(); // () 1 / absmean
        return ((w * scale).round().clamp(WeightMin, WeightMax) / scale).MoveToOuterDisposeScope();
    }
}
