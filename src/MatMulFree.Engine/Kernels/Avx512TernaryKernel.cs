using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector512;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// AVX-512BW: <c>vpmaddubsw</c> on 64 codes at a time into 16-bit lanes, widened every
/// <see cref="KernelTuning.Avx512FlushBlocks"/> blocks by <c>vpmaddwd</c>. (.NET 10 exposes no 512-bit
/// <c>vpdpbusd</c>, so 512-bit int8 dot products need this two-step form.)
/// </summary>
public sealed unsafe class Avx512TernaryKernel : TiledTernaryKernel
{
    /// <summary>Bytes per vector: one load covers 64 weights of a group (and 64 activations).</summary>
    private const int Width = 64;

    public static bool IsSupported => Avx512BW.IsSupported;

    public override string Name => "avx512";

    // Hot: 4 rows × 4 tokens per pass; 16 accumulators stay in registers (32 with AVX-512 encodings).
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Tile4x4(byte* w0, byte* w1, byte* w2, byte* w3, int blocks,
        sbyte* a0, sbyte* a1, sbyte* a2, sbyte* a3, int* result)
    {
        var mask = Vec.Create((byte)3);
        var ones = Vec.Create((short)1);
        var t00 = Vector512<int>.Zero;
        var t01 = Vector512<int>.Zero;
        var t02 = Vector512<int>.Zero;
        var t03 = Vector512<int>.Zero;
        var t10 = Vector512<int>.Zero;
        var t11 = Vector512<int>.Zero;
        var t12 = Vector512<int>.Zero;
        var t13 = Vector512<int>.Zero;
        var t20 = Vector512<int>.Zero;
        var t21 = Vector512<int>.Zero;
        var t22 = Vector512<int>.Zero;
        var t23 = Vector512<int>.Zero;
        var t30 = Vector512<int>.Zero;
        var t31 = Vector512<int>.Zero;
        var t32 = Vector512<int>.Zero;
        var t33 = Vector512<int>.Zero;
        for (int start = 0; start < blocks; start += KernelTuning.Avx512FlushBlocks)
        {
            int end = Math.Min(blocks, start + KernelTuning.Avx512FlushBlocks);
            var c00 = Vector512<short>.Zero;
            var c01 = Vector512<short>.Zero;
            var c02 = Vector512<short>.Zero;
            var c03 = Vector512<short>.Zero;
            var c10 = Vector512<short>.Zero;
            var c11 = Vector512<short>.Zero;
            var c12 = Vector512<short>.Zero;
            var c13 = Vector512<short>.Zero;
            var c20 = Vector512<short>.Zero;
            var c21 = Vector512<short>.Zero;
            var c22 = Vector512<short>.Zero;
            var c23 = Vector512<short>.Zero;
            var c30 = Vector512<short>.Zero;
            var c31 = Vector512<short>.Zero;
            var c32 = Vector512<short>.Zero;
            var c33 = Vector512<short>.Zero;
            for (int b = start; b < end; b++)
            {
                long wo = (long)b * TernaryCodes.BytesPerBlock, ao = (long)b * TernaryCodes.WeightsPerBlock;
                for (int step = 0; step < 4; step++)
                {
                    int shift = 6 - 2 * step;
                    long wp = wo, ap = ao + step * Width;
                    var u0 = Vec.ShiftRightLogical(Vec.Load(w0 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u1 = Vec.ShiftRightLogical(Vec.Load(w1 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u2 = Vec.ShiftRightLogical(Vec.Load(w2 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u3 = Vec.ShiftRightLogical(Vec.Load(w3 + wp).AsUInt16(), shift).AsByte() & mask;
                    var x0 = Vec.Load(a0 + ap);
                    var x1 = Vec.Load(a1 + ap);
                    var x2 = Vec.Load(a2 + ap);
                    var x3 = Vec.Load(a3 + ap);
                    c00 += Avx512BW.MultiplyAddAdjacent(u0, x0);
                    c01 += Avx512BW.MultiplyAddAdjacent(u1, x0);
                    c02 += Avx512BW.MultiplyAddAdjacent(u2, x0);
                    c03 += Avx512BW.MultiplyAddAdjacent(u3, x0);
                    c10 += Avx512BW.MultiplyAddAdjacent(u0, x1);
                    c11 += Avx512BW.MultiplyAddAdjacent(u1, x1);
                    c12 += Avx512BW.MultiplyAddAdjacent(u2, x1);
                    c13 += Avx512BW.MultiplyAddAdjacent(u3, x1);
                    c20 += Avx512BW.MultiplyAddAdjacent(u0, x2);
                    c21 += Avx512BW.MultiplyAddAdjacent(u1, x2);
                    c22 += Avx512BW.MultiplyAddAdjacent(u2, x2);
                    c23 += Avx512BW.MultiplyAddAdjacent(u3, x2);
                    c30 += Avx512BW.MultiplyAddAdjacent(u0, x3);
                    c31 += Avx512BW.MultiplyAddAdjacent(u1, x3);
                    c32 += Avx512BW.MultiplyAddAdjacent(u2, x3);
                    c33 += Avx512BW.MultiplyAddAdjacent(u3, x3);
                }
            }
            t00 += Avx512BW.MultiplyAddAdjacent(c00, ones);
            t01 += Avx512BW.MultiplyAddAdjacent(c01, ones);
            t02 += Avx512BW.MultiplyAddAdjacent(c02, ones);
            t03 += Avx512BW.MultiplyAddAdjacent(c03, ones);
            t10 += Avx512BW.MultiplyAddAdjacent(c10, ones);
            t11 += Avx512BW.MultiplyAddAdjacent(c11, ones);
            t12 += Avx512BW.MultiplyAddAdjacent(c12, ones);
            t13 += Avx512BW.MultiplyAddAdjacent(c13, ones);
            t20 += Avx512BW.MultiplyAddAdjacent(c20, ones);
            t21 += Avx512BW.MultiplyAddAdjacent(c21, ones);
            t22 += Avx512BW.MultiplyAddAdjacent(c22, ones);
            t23 += Avx512BW.MultiplyAddAdjacent(c23, ones);
            t30 += Avx512BW.MultiplyAddAdjacent(c30, ones);
            t31 += Avx512BW.MultiplyAddAdjacent(c31, ones);
            t32 += Avx512BW.MultiplyAddAdjacent(c32, ones);
            t33 += Avx512BW.MultiplyAddAdjacent(c33, ones);
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
    protected override void Tile4x1(byte* w0, byte* w1, byte* w2, byte* w3, int blocks, sbyte* a0, int* result)
    {
        var mask = Vec.Create((byte)3);
        var ones = Vec.Create((short)1);
        var t00 = Vector512<int>.Zero;
        var t01 = Vector512<int>.Zero;
        var t02 = Vector512<int>.Zero;
        var t03 = Vector512<int>.Zero;
        for (int start = 0; start < blocks; start += KernelTuning.Avx512FlushBlocks)
        {
            int end = Math.Min(blocks, start + KernelTuning.Avx512FlushBlocks);
            var c00 = Vector512<short>.Zero;
            var c01 = Vector512<short>.Zero;
            var c02 = Vector512<short>.Zero;
            var c03 = Vector512<short>.Zero;
            for (int b = start; b < end; b++)
            {
                long wo = (long)b * TernaryCodes.BytesPerBlock, ao = (long)b * TernaryCodes.WeightsPerBlock;
                for (int step = 0; step < 4; step++)
                {
                    int shift = 6 - 2 * step;
                    long wp = wo, ap = ao + step * Width;
                    var u0 = Vec.ShiftRightLogical(Vec.Load(w0 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u1 = Vec.ShiftRightLogical(Vec.Load(w1 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u2 = Vec.ShiftRightLogical(Vec.Load(w2 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u3 = Vec.ShiftRightLogical(Vec.Load(w3 + wp).AsUInt16(), shift).AsByte() & mask;
                    var x0 = Vec.Load(a0 + ap);
                    c00 += Avx512BW.MultiplyAddAdjacent(u0, x0);
                    c01 += Avx512BW.MultiplyAddAdjacent(u1, x0);
                    c02 += Avx512BW.MultiplyAddAdjacent(u2, x0);
                    c03 += Avx512BW.MultiplyAddAdjacent(u3, x0);
                }
            }
            t00 += Avx512BW.MultiplyAddAdjacent(c00, ones);
            t01 += Avx512BW.MultiplyAddAdjacent(c01, ones);
            t02 += Avx512BW.MultiplyAddAdjacent(c02, ones);
            t03 += Avx512BW.MultiplyAddAdjacent(c03, ones);
        }
        result[0] = Vec.Sum(t00);
        result[1] = Vec.Sum(t01);
        result[2] = Vec.Sum(t02);
        result[3] = Vec.Sum(t03);
    }
}
