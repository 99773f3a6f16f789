using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector512;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The element-wise stages of one token's block of channels, each fused into one pass of 512-bit
/// vectors: the statistics phase of the block norm, of the MLGRU step and of the GLU (the vector v
/// and its Σ(raw)², Σv², max|v·γ|), and the quantization of v. The engine's first path ran each
/// stage as three to six separate passes of 256-bit vectors (<see cref="MixerKernels"/>,
/// <see cref="ActivationQuantizer"/>), and at batch 64 they cost 13 % of a token.
/// <para>
/// The scalar reference of each is the composition of those kernels' scalar functions that the
/// engine runs without SIMD; the sums here add in a different order, so they agree to rounding,
/// not to the bit. Which path runs depends only on the machine, never on the batch or the thread
/// count: a session's arithmetic stays the same in a batch and alone.
/// </para>
/// </summary>
public static class FusedBlockKernels
{
    private const int W = 16;

    /// <summary>Whether these are the fast path here. (They run anywhere: Vector512 falls back to software.)</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    /// <summary>
    /// The block norm's statistics: Σx², then v = x·norm, Σv² and, for each gain γ_g,
    /// max|v·γ_g| into <paramref name="max"/>[g].
    /// </summary>
    // Pointers rather than span slices, and MaxNative (the values are ≥ 0, never NaN): with slices
    // and Vector512.Max the JIT kept the accumulators on the stack and made each max three
    // instructions, and the pass cost 2.8 cycles a channel.
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void NormStats(ReadOnlySpan<float> x, ReadOnlySpan<float> norm, Span<float> v,
        ReadOnlySpan<float> gain0, ReadOnlySpan<float> gain1, ReadOnlySpan<float> gain2, int gains,
        out float rawSquares, out float squares, Span<float> max)
    {
        int n = x.Length, full = n - n % W;
        RequireLength(n, norm.Length, v.Length, gain0.Length, gains > 1 ? gain1.Length : n, gains > 2 ? gain2.Length : n);
        var raw = Vector512<float>.Zero;
        var sq = Vector512<float>.Zero;
        var m0 = Vector512<float>.Zero;
        var m1 = Vector512<float>.Zero;
        var m2 = Vector512<float>.Zero;
        fixed (float* px = x, pn = norm, pv = v, p0 = gain0, p1 = gain1, p2 = gain2)
            for (int j = 0; j < full; j += W)
            {
                var xj = Vec.Load(px + j);
                var vj = xj * Vec.Load(pn + j);
                vj.Store(pv + j);
                raw += xj * xj;
                sq += vj * vj;
                m0 = Vec.MaxNative(m0, Vec.Abs(vj * Vec.Load(p0 + j)));
                if (gains > 1)
                    m1 = Vec.MaxNative(m1, Vec.Abs(vj * Vec.Load(p1 + j)));
                if (gains > 2)
                    m2 = Vec.MaxNative(m2, Vec.Abs(vj * Vec.Load(p2 + j)));
            }
        // Reduced before any call: vectors live across a call are kept on the stack, and the JIT
        // then stores them there on every iteration of the loop.
        float rawSum = Vec.Sum(raw), sqSum = Vec.Sum(sq), max0 = MaxLane(m0), max1 = MaxLane(m1), max2 = MaxLane(m2);
        // The tail (blocks of vectors whose length is not a multiple of 16) by the scalar functions.
        rawSquares = rawSum + ActivationQuantizer.SumSquaresScalar(x[full..]);
        MixerKernels.Scale(x[full..], 1, norm[full..], v[full..], simd: false);
        squares = sqSum + ActivationQuantizer.SumSquaresScalar(v[full..]);
        max[0] = MathF.Max(max0, ActivationQuantizer.MaxAbsScalar(v[full..], 1, gain0[full..]));
        if (gains > 1)
            max[1] = MathF.Max(max1, ActivationQuantizer.MaxAbsScalar(v[full..], 1, gain1[full..]));
        if (gains > 2)
            max[2] = MathF.Max(max2, ActivationQuantizer.MaxAbsScalar(v[full..], 1, gain2[full..]));
    }

    /// <summary>
    /// The MLGRU step and its output gate: h = f'·h + SiLU(i)·(1 − f') with f' = lb + (1 − lb)·σ(f);
    /// Σg² of the gate g as it comes; then v = g·gNorm·SiLU(h) in place of g, Σv² and max|v·γ|.
    /// </summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void MixerStats(ReadOnlySpan<float> i, ReadOnlySpan<float> f, ReadOnlySpan<float> lowerBound, Span<float> h,
        Span<float> v, ReadOnlySpan<float> gNorm, ReadOnlySpan<float> gamma, out float rawSquares, out float squares, out float max)
    {
        int n = h.Length, full = n - n % W;
        RequireLength(n, i.Length, f.Length, lowerBound.IsEmpty ? n : lowerBound.Length, v.Length, gNorm.Length, gamma.Length);
        bool bounded = !lowerBound.IsEmpty;
        var one = Vector512<float>.One;
        var raw = Vector512<float>.Zero;
        var sq = Vector512<float>.Zero;
        var mx = Vector512<float>.Zero;
        fixed (float* pi = i, pf = f, pl = lowerBound, ph = h, pv = v, pg = gNorm, pm = gamma)
            for (int j = 0; j < full; j += W)
            {
                var fj = Sigmoid(Vec.Load(pf + j));
                if (bounded)
                {
                    var lb = Vec.Load(pl + j);
                    fj = lb + (one - lb) * fj;
                }
                var hj = fj * Vec.Load(ph + j) + Silu(Vec.Load(pi + j)) * (one - fj);
                hj.Store(ph + j);
                var gj = Vec.Load(pv + j);
                raw += gj * gj;
                var vj = gj * Vec.Load(pg + j) * Silu(hj);
                vj.Store(pv + j);
                sq += vj * vj;
                mx = Vec.MaxNative(mx, Vec.Abs(vj * Vec.Load(pm + j)));
            }
        float rawSum = Vec.Sum(raw), sqSum = Vec.Sum(sq), maxV = MaxLane(mx);
        MixerKernels.RecurrenceScalar(i[full..], f[full..], bounded ? lowerBound[full..] : lowerBound, h[full..]);
        rawSquares = rawSum + ActivationQuantizer.SumSquaresScalar(v[full..]);
        MixerKernels.GateOutputScalar(v[full..], 1, gNorm[full..], h[full..]);
        squares = sqSum + ActivationQuantizer.SumSquaresScalar(v[full..]);
        max = MathF.Max(maxV, ActivationQuantizer.MaxAbsScalar(v[full..], 1, gamma[full..]));
    }

    /// <summary>The GLU: v = SiLU(gate)·up in place of the gate, Σv² and max|v·γ|.</summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void GluStats(Span<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> gamma, out float squares, out float max)
    {
        int n = gate.Length, full = n - n % W;
        RequireLength(n, up.Length, gamma.Length);
        var sq = Vector512<float>.Zero;
        var mx = Vector512<float>.Zero;
        fixed (float* pv = gate, pu = up, pm = gamma)
            for (int j = 0; j < full; j += W)
            {
                var vj = Silu(Vec.Load(pv + j)) * Vec.Load(pu + j);
                vj.Store(pv + j);
                sq += vj * vj;
                mx = Vec.MaxNative(mx, Vec.Abs(vj * Vec.Load(pm + j)));
            }
        float sqSum = Vec.Sum(sq), maxV = MaxLane(mx);
        MixerKernels.GluScalar(gate[full..], up[full..]);
        squares = sqSum + ActivationQuantizer.SumSquaresScalar(gate[full..]);
        max = MathF.Max(maxV, ActivationQuantizer.MaxAbsScalar(gate[full..], 1, gamma[full..]));
    }

    /// <summary>q = clamp(round(v·factor·γ·s_x), −128, 127) over v's length; returns Σq (as <see cref="ActivationQuantizer.QuantizeRange"/>).</summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe int Quantize(ReadOnlySpan<float> v, float factor, ReadOnlySpan<float> gamma, float sx, Span<sbyte> q)
    {
        int n = v.Length, full = n - n % (2 * W);
        RequireLength(n, gamma.Length, q.Length);
        var vf = Vec.Create(factor);
        var vs = Vec.Create(sx);
        var lo = Vec.Create(-128f);
        var hi = Vec.Create(127f);
        var sum = Vector512<int>.Zero;
        fixed (float* pv = v, pm = gamma)
        fixed (sbyte* pq = q)
            for (int j = 0; j < full; j += 2 * W)
            {
                // The same products in the same order as the scalar reference: ((v·factor)·γ)·s_x.
                // Clamped before rounding: the same integers as rounding first, for these bounds.
                var a = MixerKernels.RoundToInt32(Vec.Min(Vec.Max(Vec.Load(pv + j) * vf * Vec.Load(pm + j) * vs, lo), hi));
                var b = MixerKernels.RoundToInt32(Vec.Min(Vec.Max(Vec.Load(pv + j + W) * vf * Vec.Load(pm + j + W) * vs, lo), hi));
                sum += a + b;
                Vec.Narrow(Vec.Narrow(a, b), Vector512<short>.Zero).GetLower().Store(pq + j);
            }
        int total = Vec.Sum(sum);
        return total + ActivationQuantizer.QuantizeRangeScalar(v[full..], factor, gamma[full..], sx, q[full..]);
    }

    private static void RequireLength(int n, params ReadOnlySpan<int> lengths)
    {
        foreach (int length in lengths)
            if (length < n)
                throw new ArgumentException($"a span of {length} floats where the block has {n}");
    }

    /// <summary>The largest lane of a vector of values ≥ 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxLane(Vector512<float> vector)
    {
        var half = Vector256.MaxNative(vector.GetLower(), vector.GetUpper());
        var quarter = Vector128.MaxNative(half.GetLower(), half.GetUpper());
        return MathF.Max(MathF.Max(quarter[0], quarter[1]), MathF.Max(quarter[2], quarter[3]));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Sigmoid(Vector512<float> x) => Reciprocal(Vector512<float>.One + MixerKernels.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Silu(Vector512<float> x) => x * Reciprocal(Vector512<float>.One + MixerKernels.Exp(-x));

    /// <summary>
    /// 1/d for d ≥ 1: <c>vrcp14ps</c> (relative error under 2⁻¹⁴) and one Newton step (under 2⁻²⁷,
    /// below a float's rounding), in place of a division that occupies the divider for ~10 cycles
    /// a vector: the MLGRU step divides three times per channel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Reciprocal(Vector512<float> d)
    {
        if (!Avx512F.IsSupported)
            return Vector512<float>.One / d;
        var r = Avx512F.Reciprocal14(d);
        return r * (Vec.Create(2f) - d * r);
    }
}
