using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The element-wise parts of a block, per token: the MLGRU gates and recurrence, the output-gate
/// RMSNorm, and the GLU's SiLU gating. Each has a scalar reference beside its Vector256 version.
/// </summary>
public static class MixerKernels
{
    /// <summary>The recurrence alone, channel by channel (any range of channels): h = f'·h + SiLU(i)·(1 − f').</summary>
    public static void Recurrence(ReadOnlySpan<float> i, ReadOnlySpan<float> f, ReadOnlySpan<float> lowerBound, Span<float> h, bool simd = true)
    {
        if (simd && Vector256.IsHardwareAccelerated)
            RecurrenceVector256(i, f, lowerBound, h);
        else
            RecurrenceScalar(i, f, lowerBound, h);
    }

    public static void RecurrenceScalar(ReadOnlySpan<float> i, ReadOnlySpan<float> f, ReadOnlySpan<float> lowerBound, Span<float> h)
    {
        for (int j = 0; j < h.Length; j++)
        {
            float fj = Sigmoid(f[j]);
            if (!lowerBound.IsEmpty)
                fj = lowerBound[j] + (1 - lowerBound[j]) * fj;
            h[j] = fj * h[j] + Silu(i[j]) * (1 - fj);
        }
    }

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RecurrenceVector256(ReadOnlySpan<float> i, ReadOnlySpan<float> f, ReadOnlySpan<float> lowerBound, Span<float> h)
    {
        int n = h.Length, w = Vector256<float>.Count, full = n - n % w;
        var one = Vector256<float>.One;
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
        }
        RecurrenceScalar(i[full..], f[full..], lowerBound.IsEmpty ? lowerBound : lowerBound[full..], h[full..]);
    }

    /// <summary>gate = gate·rstd·gNorm ⊙ SiLU(h) over any range of channels (rstd from the whole gate's Σg²).</summary>
    public static void GateOutput(Span<float> gate, float rstd, ReadOnlySpan<float> gNorm, ReadOnlySpan<float> h, bool simd = true)
    {
        if (simd && Vector256.IsHardwareAccelerated)
            GateOutputVector256(gate, rstd, gNorm, h);
        else
            GateOutputScalar(gate, rstd, gNorm, h);
    }

    public static void GateOutputScalar(Span<float> gate, float rstd, ReadOnlySpan<float> gNorm, ReadOnlySpan<float> h)
    {
        for (int j = 0; j < gate.Length; j++)
            gate[j] = gate[j] * rstd * gNorm[j] * Silu(h[j]);
    }

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GateOutputVector256(Span<float> gate, float rstd, ReadOnlySpan<float> gNorm, ReadOnlySpan<float> h)
    {
        int n = gate.Length, w = Vector256<float>.Count, full = n - n % w;
        var vr = Vector256.Create(rstd);
        for (int j = 0; j < full; j += w)
        {
            var g = Vector256.Create((ReadOnlySpan<float>)gate.Slice(j, w));
            (g * vr * Vector256.Create(gNorm.Slice(j, w)) * Silu(Vector256.Create(h.Slice(j, w)))).CopyTo(gate.Slice(j, w));
        }
        GateOutputScalar(gate[full..], rstd, gNorm[full..], h[full..]);
    }

    /// <summary>gate = SiLU(gate) ⊙ up, over any range of channels.</summary>
    public static void Glu(Span<float> gate, ReadOnlySpan<float> up, bool simd = true)
    {
        if (simd && Vector256.IsHardwareAccelerated)
            GluVector256(gate, up);
        else
            GluScalar(gate, up);
    }

    public static void GluScalar(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int j = 0; j < gate.Length; j++)
            gate[j] = Silu(gate[j]) * up[j];
    }

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GluVector256(Span<float> gate, ReadOnlySpan<float> up)
    {
        int l = gate.Length, w = Vector256<float>.Count, full = l - l % w;
        for (int j = 0; j < full; j += w)
            (Silu(Vector256.Create((ReadOnlySpan<float>)gate.Slice(j, w))) * Vector256.Create(up.Slice(j, w))).CopyTo(gate.Slice(j, w));
        GluScalar(gate[full..], up[full..]);
    }

    /// <summary>output = x·rstd·γ over any range of channels.</summary>
    public static void Scale(ReadOnlySpan<float> x, float rstd, ReadOnlySpan<float> gamma, Span<float> output, bool simd = true)
    {
        int n = x.Length, w = Vector256<float>.Count, full = simd && Vector256.IsHardwareAccelerated ? n - n % w : 0;
        var vr = Vector256.Create(rstd);
        for (int j = 0; j < full; j += w)
            (Vector256.Create(x.Slice(j, w)) * vr * Vector256.Create(gamma.Slice(j, w))).CopyTo(output.Slice(j, w));
        for (int j = full; j < n; j++)
            output[j] = x[j] * rstd * gamma[j];
    }

    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    public static float Silu(float x) => x / (1f + MathF.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Silu(Vector256<float> x) => x / (Vector256<float>.One + Exp(-x));

    /// <summary>
    /// eˣ in single precision, within 2 ulp of <see cref="MathF.Exp"/> (Cephes' expf: 2ⁿ·p(r) with
    /// r = x − n·ln 2, ln 2 split in two for exactness, p of degree 7). <see cref="Vector256.Exp(Vector256{float})"/>
    /// cost 2 cycles an element here, a quarter of the GLU and a third of the recurrence at batch
    /// 64; this costs ≈ 0.3. Inputs are clamped to [−87.3, 88.3], where 2ⁿ stays a normal float:
    /// below, e^x is under 1.3e-38 and the gates it feeds are 0 or 1 to the last bit either way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        // The same steps as the 512-bit overload below, 8 lanes at a time.
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87.3f)), Vector256.Create(88.3f));
        var n = Round(x * Vector256.Create(1.44269504088896341f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500e-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        var scale = ((Truncate(n) + Vector256.Create(127)) << 23).AsSingle();
        return p * scale;
    }

    /// <summary>eˣ, 16 lanes at a time (for <see cref="FusedBlockKernels"/>); see the 256-bit overload.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.3f)), Vector512.Create(88.3f));
        var n = Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        var scale = ((Truncate(n) + Vector512.Create(127)) << 23).AsSingle();
        return p * scale;
    }

    // The instructions themselves where the machine has them: .NET 10's Vector256/512.Round and
    // ConvertToInt32 measured 6 and 23 cycles a 512-bit vector here (against about 1), which made
    // the exponential three times dearer than its polynomial.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Round(Vector256<float> x) =>
        Avx.IsSupported ? Avx.RoundToNearestInteger(x) : Vector256.Round(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Round(Vector512<float> x) =>
        Avx512F.IsSupported ? Avx512F.RoundScale(x, 0) : Vector512.Round(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Truncate(Vector256<float> x) =>
        Avx.IsSupported ? Avx.ConvertToVector256Int32WithTruncation(x) : Vector256.ConvertToInt32(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Truncate(Vector512<float> x) =>
        Avx512F.IsSupported ? Avx512F.ConvertToVector512Int32WithTruncation(x) : Vector512.ConvertToInt32(x);

    /// <summary>The nearest integers, ties to even (as <see cref="MathF.Round(float)"/>), as int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> RoundToInt32(Vector256<float> x) =>
        Avx.IsSupported ? Avx.ConvertToVector256Int32(x) : Vector256.ConvertToInt32(Vector256.Round(x));

    /// <summary>The nearest integers, ties to even (as <see cref="MathF.Round(float)"/>), as int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> RoundToInt32(Vector512<float> x) =>
        Avx512F.IsSupported ? Avx512F.ConvertToVector512Int32(x) : Vector512.ConvertToInt32(Vector512.Round(x));
}
