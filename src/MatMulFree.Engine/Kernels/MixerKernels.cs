using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The element-wise parts of a block, per token: the MLGRU gates and recurrence, the output-gate
/// RMSNorm, and the GLU's SiLU gating. Each has a scalar reference beside its Vector256 version.
/// </summary>
public static class MixerKernels
{
    /// <summary>
    /// One MLGRU step, in place: f = σ(f) (raised by lb when given), c = SiLU(i)·(1 − f),
    /// h = f·h + c, then <paramref name="gate"/> becomes RMSNorm(g; gNorm, eps) ⊙ SiLU(h).
    /// </summary>
    public static void MlgruStep(ReadOnlySpan<float> i, ReadOnlySpan<float> f, Span<float> gate,
        ReadOnlySpan<float> lowerBound, Span<float> h, ReadOnlySpan<float> gNorm, float eps, bool simd = true)
    {
        if (simd && Vector256.IsHardwareAccelerated)
            MlgruStepVector256(i, f, gate, lowerBound, h, gNorm, eps);
        else
            MlgruStepScalar(i, f, gate, lowerBound, h, gNorm, eps);
    }

    public static void MlgruStepScalar(ReadOnlySpan<float> i, ReadOnlySpan<float> f, Span<float> gate,
        ReadOnlySpan<float> lowerBound, Span<float> h, ReadOnlySpan<float> gNorm, float eps)
    {
        int n = h.Length;
        for (int j = 0; j < n; j++)
        {
            float fj = Sigmoid(f[j]);
            if (!lowerBound.IsEmpty)
                fj = lowerBound[j] + (1 - lowerBound[j]) * fj;
            float c = Silu(i[j]) * (1 - fj);
            h[j] = fj * h[j] + c;
        }
        float squares = 0;
        for (int j = 0; j < n; j++)
            squares += gate[j] * gate[j];
        float rstd = 1f / MathF.Sqrt(squares / n + eps);
        for (int j = 0; j < n; j++)
            gate[j] = gate[j] * rstd * gNorm[j] * Silu(h[j]);
    }

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MlgruStepVector256(ReadOnlySpan<float> i, ReadOnlySpan<float> f, Span<float> gate,
        ReadOnlySpan<float> lowerBound, Span<float> h, ReadOnlySpan<float> gNorm, float eps)
    {
        int n = h.Length, w = Vector256<float>.Count, full = n - n % w;
        if (i.Length < n || f.Length < n || gate.Length < n || gNorm.Length < n || (!lowerBound.IsEmpty && lowerBound.Length < n))
            throw new ArgumentException("every input must be at least as long as h");
        var one = Vector256<float>.One;
        var sq = Vector256<float>.Zero;
        for (int j = 0; j < full; j += w)
        {
            var fj = Sigmoid(Vector256.Create(f.Slice(j, w)));
            if (!lowerBound.IsEmpty)
            {
                var lb = Vector256.Create(lowerBound.Slice(j, w));
                fj = lb + (one - lb) * fj;
            }
            var c = Silu(Vector256.Create(i.Slice(j, w))) * (one - fj);
            (fj * Vector256.Create((ReadOnlySpan<float>)h.Slice(j, w)) + c).CopyTo(h.Slice(j, w));
            var g = Vector256.Create((ReadOnlySpan<float>)gate.Slice(j, w));
            sq += g * g;
        }
        float squares = Vector256.Sum(sq);
        for (int j = full; j < n; j++)
        {
            float fj = Sigmoid(f[j]);
            if (!lowerBound.IsEmpty)
                fj = lowerBound[j] + (1 - lowerBound[j]) * fj;
            h[j] = fj * h[j] + Silu(i[j]) * (1 - fj);
            squares += gate[j] * gate[j];
        }
        float rstd = 1f / MathF.Sqrt(squares / n + eps);
        var vr = Vector256.Create(rstd);
        for (int j = 0; j < full; j += w)
        {
            var g = Vector256.Create((ReadOnlySpan<float>)gate.Slice(j, w));
            (g * vr * Vector256.Create(gNorm.Slice(j, w)) * Silu(Vector256.Create((ReadOnlySpan<float>)h.Slice(j, w)))).CopyTo(gate.Slice(j, w));
        }
        for (int j = full; j < n; j++)
            gate[j] = gate[j] * rstd * gNorm[j] * Silu(h[j]);
    }

    /// <summary>GLU: <paramref name="gateUp"/> holds [gate | up] (2l); writes SiLU(gate) ⊙ up into its first l.</summary>
    public static void GluInPlace(Span<float> gateUp, bool simd = true)
    {
        if (simd && Vector256.IsHardwareAccelerated)
            GluInPlaceVector256(gateUp);
        else
            GluInPlaceScalar(gateUp);
    }

    public static void GluInPlaceScalar(Span<float> gateUp)
    {
        int l = gateUp.Length / 2;
        for (int j = 0; j < l; j++)
            gateUp[j] = Silu(gateUp[j]) * gateUp[l + j];
    }

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GluInPlaceVector256(Span<float> gateUp)
    {
        int l = gateUp.Length / 2, w = Vector256<float>.Count, full = l - l % w;
        for (int j = 0; j < full; j += w)
            (Silu(Vector256.Create((ReadOnlySpan<float>)gateUp.Slice(j, w))) * Vector256.Create((ReadOnlySpan<float>)gateUp.Slice(l + j, w))).CopyTo(gateUp.Slice(j, w));
        for (int j = full; j < l; j++)
            gateUp[j] = Silu(gateUp[j]) * gateUp[l + j];
    }

    /// <summary>RMSNorm(x; γ, eps) into <paramref name="output"/> (the block and final norms; rare enough to stay scalar).</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, float eps, Span<float> output)
    {
        float squares = 0;
        foreach (float v in x)
            squares += v * v;
        float rstd = 1f / MathF.Sqrt(squares / x.Length + eps);
        for (int j = 0; j < x.Length; j++)
            output[j] = x[j] * rstd * gamma[j];
    }

    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    public static float Silu(float x) => x / (1f + MathF.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Silu(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Exp(-x));
}
