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

    public static Tensor RmsNorm(Tensor x, Tensor gamma, double eps)
    {
        using var scope = NewDisposeScope();
        var rstd = (x.square().mean([-1], keepdim: true) + eps).rsqrt(); // (..., 1)
        return (x * rstd * gamma).MoveToOuterDisposeScope();             // (..., in)
    }

    /// <summary>Per row, 8-bit absmax: values on the grid k/s_x, k in [-128, 127].</summary>
    public static Tensor Activations(Tensor x)
    {
        using var scope = NewDisposeScope();
        var scale = 127.0 / x.abs().amax([-1], keepdim: true).clamp_min(1e-5); // (..., 1)
        return ((x * scale).round().clamp(-128, 127) / scale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per tensor, ternary absmean: T/s_w with T in {-1, 0, 1}. Not idempotent (the mean of |W̃|
    /// counts the zeros), so it must only ever be applied to latent weights.
    /// </summary>
    public static Tensor Weights(Tensor w)
    {
        using var scope = NewDisposeScope();
        var scale = 1.0 / w.abs().mean().clamp_min(1e-5); // ()
        return ((w * scale).round().clamp(-1, 1) / scale).MoveToOuterDisposeScope();
    }
}
