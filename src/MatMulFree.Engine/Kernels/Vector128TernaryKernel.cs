using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vec = System.Runtime.Intrinsics.Vector128;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// Portable 128-bit path (NEON, SSE): codes and activations widened to 16 bits and multiplied,
/// 16-bit sums widened every <see cref="KernelTuning.Vector128FlushBlocks"/> blocks. Slower than the x86
/// paths, but the same everywhere Vector128 is accelerated.
/// </summary>
public sealed unsafe class Vector128TernaryKernel : TiledTernaryKernel
{
    /// <summary>Bytes per vector: one load covers 16 weights of a group (and 16 activations).</summary>
    private const int Width = 16;

    public static bool IsSupported => Vector128.IsHardwareAccelerated;

    public override string Name => "v128";

    // Hot: 4 rows × 4 tokens per pass; 16 accumulators stay in registers (32 with AVX-512 encodings).
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Tile4x4(byte* w0, byte* w1, byte* w2, byte* w3, long blockStride, int blocks,
        sbyte* a0, sbyte* a1, sbyte* a2, sbyte* a3, int* result)
    {
        var mask = Vec.Create((byte)3);
        var t00 = Vector128<int>.Zero;
        var t01 = Vector128<int>.Zero;
        var t02 = Vector128<int>.Zero;
        var t03 = Vector128<int>.Zero;
        var t10 = Vector128<int>.Zero;
        var t11 = Vector128<int>.Zero;
        var t12 = Vector128<int>.Zero;
        var t13 = Vector128<int>.Zero;
        var t20 = Vector128<int>.Zero;
        var t21 = Vector128<int>.Zero;
        var t22 = Vector128<int>.Zero;
        var t23 = Vector128<int>.Zero;
        var t30 = Vector128<int>.Zero;
        var t31 = Vector128<int>.Zero;
        var t32 = Vector128<int>.Zero;
        var t33 = Vector128<int>.Zero;
        for (int start = 0; start < blocks; start += KernelTuning.Vector128FlushBlocks)
        {
            int end = Math.Min(blocks, start + KernelTuning.Vector128FlushBlocks);
            var c00 = Vector128<short>.Zero;
            var c01 = Vector128<short>.Zero;
            var c02 = Vector128<short>.Zero;
            var c03 = Vector128<short>.Zero;
            var c10 = Vector128<short>.Zero;
            var c11 = Vector128<short>.Zero;
            var c12 = Vector128<short>.Zero;
            var c13 = Vector128<short>.Zero;
            var c20 = Vector128<short>.Zero;
            var c21 = Vector128<short>.Zero;
            var c22 = Vector128<short>.Zero;
            var c23 = Vector128<short>.Zero;
            var c30 = Vector128<short>.Zero;
            var c31 = Vector128<short>.Zero;
            var c32 = Vector128<short>.Zero;
            var c33 = Vector128<short>.Zero;
            for (int b = start; b < end; b++)
            {
                long wo = b * blockStride, ao = (long)b * TernaryCodes.WeightsPerBlock;
                for (int step = 0; step < 16; step++)
                {
                    int group = step / 4, half = step % 4;
                    int shift = 6 - 2 * group;
                    long wp = wo + half * Width, ap = ao + group * TernaryCodes.GroupWidth + half * Width;
                    var u0 = Vec.ShiftRightLogical(Vec.Load(w0 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u1 = Vec.ShiftRightLogical(Vec.Load(w1 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u2 = Vec.ShiftRightLogical(Vec.Load(w2 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u3 = Vec.ShiftRightLogical(Vec.Load(w3 + wp).AsUInt16(), shift).AsByte() & mask;
                    var x0 = Vec.Load(a0 + ap);
                    var x1 = Vec.Load(a1 + ap);
                    var x2 = Vec.Load(a2 + ap);
                    var x3 = Vec.Load(a3 + ap);
                    c00 += Mad(u0, x0);
                    c01 += Mad(u1, x0);
                    c02 += Mad(u2, x0);
                    c03 += Mad(u3, x0);
                    c10 += Mad(u0, x1);
                    c11 += Mad(u1, x1);
                    c12 += Mad(u2, x1);
                    c13 += Mad(u3, x1);
                    c20 += Mad(u0, x2);
                    c21 += Mad(u1, x2);
                    c22 += Mad(u2, x2);
                    c23 += Mad(u3, x2);
                    c30 += Mad(u0, x3);
                    c31 += Mad(u1, x3);
                    c32 += Mad(u2, x3);
                    c33 += Mad(u3, x3);
                }
            }
            t00 += Widen(c00);
            t01 += Widen(c01);
            t02 += Widen(c02);
            t03 += Widen(c03);
            t10 += Widen(c10);
            t11 += Widen(c11);
            t12 += Widen(c12);
            t13 += Widen(c13);
            t20 += Widen(c20);
            t21 += Widen(c21);
            t22 += Widen(c22);
            t23 += Widen(c23);
            t30 += Widen(c30);
            t31 += Widen(c31);
            t32 += Widen(c32);
            t33 += Widen(c33);
        }
        result[0] = Vec.Sum(t00);
        result[1] = Vec.Sum(t01);
        result[2] = Vec.Sum(t02);
        result[3] = Vec.Sum(t03);
        result[4] = Vec.Sum(t10);
        result[5] = Vec.Sum(t11);
        result[6] = Vec.Sum(t12);
        result[7] = Vec.Sum(t13);
        result[8] = Vec.Sum(t20);
        result[9] = Vec.Sum(t21);
        result[10] = Vec.Sum(t22);
        result[11] = Vec.Sum(t23);
        result[12] = Vec.Sum(t30);
        result[13] = Vec.Sum(t31);
        result[14] = Vec.Sum(t32);
        result[15] = Vec.Sum(t33);
    }

    // Hot at batch 1: 4 independent accumulator chains over 4 rows keep the loads in flight.
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Tile4x1(byte* w0, byte* w1, byte* w2, byte* w3, long blockStride, int blocks, sbyte* a0, int* result)
    {
        var mask = Vec.Create((byte)3);
        var t00 = Vector128<int>.Zero;
        var t01 = Vector128<int>.Zero;
        var t02 = Vector128<int>.Zero;
        var t03 = Vector128<int>.Zero;
        for (int start = 0; start < blocks; start += KernelTuning.Vector128FlushBlocks)
        {
            int end = Math.Min(blocks, start + KernelTuning.Vector128FlushBlocks);
            var c00 = Vector128<short>.Zero;
            var c01 = Vector128<short>.Zero;
            var c02 = Vector128<short>.Zero;
            var c03 = Vector128<short>.Zero;
            for (int b = start; b < end; b++)
            {
                long wo = b * blockStride, ao = (long)b * TernaryCodes.WeightsPerBlock;
                for (int step = 0; step < 16; step++)
                {
                    int group = step / 4, half = step % 4;
                    int shift = 6 - 2 * group;
                    long wp = wo + half * Width, ap = ao + group * TernaryCodes.GroupWidth + half * Width;
                    var u0 = Vec.ShiftRightLogical(Vec.Load(w0 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u1 = Vec.ShiftRightLogical(Vec.Load(w1 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u2 = Vec.ShiftRightLogical(Vec.Load(w2 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u3 = Vec.ShiftRightLogical(Vec.Load(w3 + wp).AsUInt16(), shift).AsByte() & mask;
                    var x0 = Vec.Load(a0 + ap);
                    c00 += Mad(u0, x0);
                    c01 += Mad(u1, x0);
                    c02 += Mad(u2, x0);
                    c03 += Mad(u3, x0);
                }
            }
            t00 += Widen(c00);
            t01 += Widen(c01);
            t02 += Widen(c02);
            t03 += Widen(c03);
        }
        result[0] = Vec.Sum(t00);
        result[1] = Vec.Sum(t01);
        result[2] = Vec.Sum(t02);
        result[3] = Vec.Sum(t03);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Mad(Vector128<byte> codes, Vector128<sbyte> acts)
    {
        var (cl, ch) = Vector128.Widen(codes);
        var (al, ah) = Vector128.Widen(acts);
        return cl.AsInt16() * al + ch.AsInt16() * ah;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Widen(Vector128<short> sums)
    {
        var (lo, hi) = Vector128.Widen(sums);
        return lo + hi;
    }
}
