using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The activation half of BitLinear, fused: x̂ = RMSNorm(x; γ, 1e-6), s_x = 127 / max(max|x̂|, 1e-5),
/// q = clamp(round(s_x·x̂), −128, 127). Writes q (zero-padded to the packed row length), returns s_x
/// and Σq (the kernels compute Σ(T+1)·q; the caller subtracts Σq).
/// <para>
/// Its three passes (Σx², max|x·rstd·γ|, quantize) are also public on their own: the engine splits
/// one token's vector over its threads by channel ranges and adds up the partial results between
/// the passes. Each pass has a scalar reference beside its Vector256 version.
/// </para>
/// </summary>
public static class ActivationQuantizer
{
    /// <summary>The norm eps inside BitLinear: 1e-6 in the released kernels, whatever the config says.</summary>
    public const float NormEps = 1e-6f;

    public static float Quantize(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, Span<sbyte> q, out int qSum, bool simd = true) =>
        simd && Vector256.IsHardwareAccelerated ? QuantizeVector256(x, gamma, q, out qSum) : QuantizeScalar(x, gamma, q, out qSum);

    public static float QuantizeScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, Span<sbyte> q, out int qSum) =>
        QuantizeAll(x, gamma, q, out qSum, vector: false);

    public static float QuantizeVector256(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, Span<sbyte> q, out int qSum) =>
        QuantizeAll(x, gamma, q, out qSum, vector: true);

    private static float QuantizeAll(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, Span<sbyte> q, out int qSum, bool vector)
    {
        int n = x.Length;
        if (gamma.Length < n || q.Length < n)
            throw new ArgumentException("gamma and q must be at least as long as x");
        float rstd = Rstd(vector ? SumSquaresVector256(x) : SumSquaresScalar(x), n, NormEps);
        float sx = Scale(vector ? MaxAbsVector256(x, rstd, gamma) : MaxAbsScalar(x, rstd, gamma));
        qSum = vector ? QuantizeRangeVector256(x, rstd, gamma, sx, q) : QuantizeRangeScalar(x, rstd, gamma, sx, q);
        q[n..].Clear();
        return sx;
    }

    /// <summary>1 / √(Σx² / n + eps).</summary>
    public static float Rstd(float sumSquares, int n, float eps) => 1f / MathF.Sqrt(sumSquares / n + eps);

    /// <summary>s_x = 127 / max(max|x̂|, 1e-5).</summary>
    public static float Scale(float maxAbs) => 127f / MathF.Max(maxAbs, 1e-5f);

    public static float SumSquares(ReadOnlySpan<float> x, bool simd = true) =>
        simd && Vector256.IsHardwareAccelerated ? SumSquaresVector256(x) : SumSquaresScalar(x);

    public static float SumSquaresScalar(ReadOnlySpan<float> x)
    {
        float squares = 0;
        foreach (float v in x)
            squares += v * v;
        return squares;
    }

    // Four accumulators: one would wait on the previous add every 8 floats (a 256-channel block is
    // 32 dependent adds).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumSquaresVector256(ReadOnlySpan<float> x)
    {
        int n = x.Length, w = Vector256<float>.Count, full = n - n % w;
        var (s0, s1, s2, s3) = (Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero, Vector256<float>.Zero);
        int j = 0;
        for (; j + 4 * w <= full; j += 4 * w)
        {
            var a = Vector256.Create(x.Slice(j, w));
            var b = Vector256.Create(x.Slice(j + w, w));
            var c = Vector256.Create(x.Slice(j + 2 * w, w));
            var d = Vector256.Create(x.Slice(j + 3 * w, w));
            s0 += a * a;
            s1 += b * b;
            s2 += c * c;
            s3 += d * d;
        }
        for (; j < full; j += w)
        {
            var v = Vector256.Create(x.Slice(j, w));
            s0 += v * v;
        }
        return Vector256.Sum((s0 + s1) + (s2 + s3)) + SumSquaresScalar(x[full..]);
    }

    /// <summary>max |x·rstd·γ| (order-free: split ranges combine exactly).</summary>
    public static float MaxAbs(ReadOnlySpan<float> x, float rstd, ReadOnlySpan<float> gamma, bool simd = true) =>
        simd && Vector256.IsHardwareAccelerated ? MaxAbsVector256(x, rstd, gamma) : MaxAbsScalar(x, rstd, gamma);

    public static float MaxAbsScalar(ReadOnlySpan<float> x, float rstd, ReadOnlySpan<float> gamma)
    {
        float max = 0;
        for (int j = 0; j < x.Length; j++)
            max = MathF.Max(max, MathF.Abs(x[j] * rstd * gamma[j]));
        return max;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float MaxAbsVector256(ReadOnlySpan<float> x, float rstd, ReadOnlySpan<float> gamma)
    {
        int n = x.Length, w = Vector256<float>.Count, full = n - n % w;
        var vr = Vector256.Create(rstd);
        var (m0, m1) = (Vector256<float>.Zero, Vector256<float>.Zero);
        int j = 0;
        for (; j + 2 * w <= full; j += 2 * w)
        {
            m0 = Vector256.Max(m0, Vector256.Abs(Vector256.Create(x.Slice(j, w)) * vr * Vector256.Create(gamma.Slice(j, w))));
            m1 = Vector256.Max(m1, Vector256.Abs(Vector256.Create(x.Slice(j + w, w)) * vr * Vector256.Create(gamma.Slice(j + w, w))));
        }
        for (; j < full; j += w)
            m0 = Vector256.Max(m0, Vector256.Abs(Vector256.Create(x.Slice(j, w)) * vr * Vector256.Create(gamma.Slice(j, w))));
        var vmax = Vector256.Max(m0, m1);
        float max = MaxAbsScalar(x[full..], rstd, gamma[full..]);
        for (int k = 0; k < w; k++)
            max = MathF.Max(max, vmax[k]);
        return max;
    }

    /// <summary>q = clamp(round(x·rstd·γ·s_x), −128, 127) over x's length; returns Σq.</summary>
    public static int QuantizeRange(ReadOnlySpan<float> x, float rstd, ReadOnlySpan<float> gamma, float sx, Span<sbyte> q, bool simd = true) =>
        simd && Vector256.IsHardwareAccelerated ? QuantizeRangeVector256(x, rstd, gamma, sx, q) : QuantizeRangeScalar(x, rstd, gamma, sx, q);

    public static int QuantizeRangeScalar(ReadOnlySpan<float> x, float rstd, ReadOnlySpan<float> gamma, float sx, Span<sbyte> q)
    {
        int sum = 0;
        for (int j = 0; j < x.Length; j++)
        {
            int v = (int)Math.Clamp(MathF.Round(x[j] * rstd * gamma[j] * sx), -128f, 127f);
            q[j] = (sbyte)v;
            sum += v;
        }
        return sum;
    }

    // Runs once per token per BitLinear (≈ 150 times a token): small next to the weight products,
    // but at batch 64 the scalar version shows in the profile.
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int QuantizeRangeVector256(ReadOnlySpan<float> x, float rstd, ReadOnlySpan<float> gamma, float sx, Span<sbyte> q)
    {
        int n = x.Length, w = Vector256<float>.Count;
        var vr = Vector256.Create(rstd);
        var vs = Vector256.Create(sx);
        var lo = Vector256.Create(-128f);
        var hi = Vector256.Create(127f);
        var isum = Vector256<int>.Zero;
        int j = 0;
        for (; j + 2 * w <= n; j += 2 * w)
        {
            // Clamped, then rounded and converted in one instruction (the same integers as rounding first).
            var a = MixerKernels.RoundToInt32(Vector256.Min(Vector256.Max(Vector256.Create(x.Slice(j, w)) * vr * Vector256.Create(gamma.Slice(j, w)) * vs, lo), hi));
            var b = MixerKernels.RoundToInt32(Vector256.Min(Vector256.Max(Vector256.Create(x.Slice(j + w, w)) * vr * Vector256.Create(gamma.Slice(j + w, w)) * vs, lo), hi));
            isum += a + b;
            var shorts = Vector256.Narrow(a, b);
            var bytes = Vector256.Narrow(shorts, Vector256<short>.Zero);
            bytes.GetLower().CopyTo(q.Slice(j, 2 * w));
        }
        return Vector256.Sum(isum) + QuantizeRangeScalar(x[j..], rstd, gamma[j..], sx, q[j..]);
    }
}
