using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The activation half of BitLinear, fused: x̂ = RMSNorm(x; γ, 1e-6), s_x = 127 / max(max|x̂|, 1e-5),
/// q = clamp(round(s_x·x̂), −128, 127). Writes q (zero-padded to the packed row length), returns s_x
/// and Σq (the kernels compute Σ(T+1)·q; the caller subtracts Σq).
/// </summary>
public static class ActivationQuantizer
{
    /// <summary>The norm eps inside BitLinear: 1e-6 in the released kernels, whatever the config says.</summary>
    public const float NormEps = 1e-6f;

    public static float Quantize(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, Span<sbyte> q, out int qSum, bool simd = true) =>
        simd && Vector256.IsHardwareAccelerated ? QuantizeVector256(x, gamma, q, out qSum) : QuantizeScalar(x, gamma, q, out qSum);

    public static float QuantizeScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, Span<sbyte> q, out int qSum)
    {
        int n = x.Length;
        float squares = 0;
        for (int j = 0; j < n; j++)
            squares += x[j] * x[j];
        float rstd = 1f / MathF.Sqrt(squares / n + NormEps);
        float max = 0;
        for (int j = 0; j < n; j++)
            max = MathF.Max(max, MathF.Abs(x[j] * rstd * gamma[j]));
        float sx = 127f / MathF.Max(max, 1e-5f);
        int sum = 0;
        for (int j = 0; j < n; j++)
        {
            int v = (int)Math.Clamp(MathF.Round(x[j] * rstd * gamma[j] * sx), -128f, 127f);
            q[j] = (sbyte)v;
            sum += v;
        }
        q[n..].Clear();
        qSum = sum;
        return sx;
    }

    // Runs once per token per BitLinear (≈ 150 times a token): small next to the weight products,
    // but at batch 64 the scalar version shows in the profile.
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float QuantizeVector256(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, Span<sbyte> q, out int qSum)
    {
        int n = x.Length, w = Vector256<float>.Count;
        if (gamma.Length < n || q.Length < n)
            throw new ArgumentException("gamma and q must be at least as long as x");
        int full = n - n % w;
        var sq = Vector256<float>.Zero;
        for (int j = 0; j < full; j += w)
        {
            var v = Vector256.Create(x.Slice(j, w));
            sq += v * v;
        }
        float squares = Vector256.Sum(sq);
        for (int j = full; j < n; j++)
            squares += x[j] * x[j];
        float rstd = 1f / MathF.Sqrt(squares / n + NormEps);

        var vr = Vector256.Create(rstd);
        var vmax = Vector256<float>.Zero;
        for (int j = 0; j < full; j += w)
            vmax = Vector256.Max(vmax, Vector256.Abs(Vector256.Create(x.Slice(j, w)) * vr * Vector256.Create(gamma.Slice(j, w))));
        float max = 0;
        for (int k = 0; k < w; k++)
            max = MathF.Max(max, vmax[k]);
        for (int j = full; j < n; j++)
            max = MathF.Max(max, MathF.Abs(x[j] * rstd * gamma[j]));
        float sx = 127f / MathF.Max(max, 1e-5f);

        var vs = Vector256.Create(sx);
        var lo = Vector256.Create(-128f);
        var hi = Vector256.Create(127f);
        var isum = Vector256<int>.Zero;
        int j8 = 0;
        for (; j8 + 2 * w <= n; j8 += 2 * w)
        {
            var a = Vector256.ConvertToInt32(Vector256.Clamp(Vector256.Round(Vector256.Create(x.Slice(j8, w)) * vr * Vector256.Create(gamma.Slice(j8, w)) * vs), lo, hi));
            var b = Vector256.ConvertToInt32(Vector256.Clamp(Vector256.Round(Vector256.Create(x.Slice(j8 + w, w)) * vr * Vector256.Create(gamma.Slice(j8 + w, w)) * vs), lo, hi));
            isum += a + b;
            var shorts = Vector256.Narrow(a, b);
            var bytes = Vector256.Narrow(shorts, Vector256<short>.Zero);
            bytes.GetLower().CopyTo(q.Slice(j8, 2 * w));
        }
        int sum = Vector256.Sum(isum);
        for (int j = j8; j < n; j++)
        {
            int v = (int)Math.Clamp(MathF.Round(x[j] * rstd * gamma[j] * sx), -128f, 127f);
            q[j] = (sbyte)v;
            sum += v;
        }
        q[n..].Clear();
        qSum = sum;
        return sx;
    }
}
