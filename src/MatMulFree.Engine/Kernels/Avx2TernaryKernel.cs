using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector256;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// AVX2: <c>vpmaddubsw</c> on 32 codes at a time into 16-bit lanes, widened every
/// <see cref="KernelTuning.Avx2FlushBlocks"/> blocks by <c>vpmaddwd</c>.
/// </summary>
public sealed unsafe class Avx2TernaryKernel : TiledTernaryKernel
{
    /// <summary>Bytes per vector: one load covers 32 weights of a group (and 32 activations).</summary>
    private const int Width = 32;

    public static bool IsSupported => Avx2.IsSupported;

    public override string Name => "avx2";

    // Hot: 4 rows × 4 tokens per pass; 16 accumulators stay in registers (32 with AVX-512 encodings).
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Tile4x4(byte* w0, byte* w1, byte* w2, byte* w3, int blocks,
        sbyte* a0, sbyte* a1, sbyte* a2, sbyte* a3, int* result)
    {
        var mask = Vec.Create((byte)3);
        var ones = Vec.Create((short)1);
        var t00 = Vector256<int>.Zero;
        var t01 = Vector256<int>.Zero;
        var t02 = Vector256<int>.Zero;
        var t03 = Vector256<int>.Zero;
        var t10 = Vector256<int>.Zero;
        var t11 = Vector256<int>.Zero;
        var t12 = Vector256<int>.Zero;
        var t13 = Vector256<int>.Zero;
        var t20 = Vector256<int>.Zero;
        var t21 = Vector256<int>.Zero;
        var t22 = Vector256<int>.Zero;
        var t23 = Vector256<int>.Zero;
        var t30 = Vector256<int>.Zero;
        var t31 = Vector256<int>.Zero;
        var t32 = Vector256<int>.Zero;
        var t33 = Vector256<int>.Zero;
        for (int start = 0; start < blocks; start += KernelTuning.Avx2FlushBlocks)
        {
            int end = Math.Min(blocks, start + KernelTuning.Avx2FlushBlocks);
            var c00 = Vector256<short>.Zero;
            var c01 = Vector256<short>.Zero;
            var c02 = Vector256<short>.Zero;
            var c03 = Vector256<short>.Zero;
            var c10 = Vector256<short>.Zero;
            var c11 = Vector256<short>.Zero;
            var c12 = Vector256<short>.Zero;
            var c13 = Vector256<short>.Zero;
            var c20 = Vector256<short>.Zero;
            var c21 = Vector256<short>.Zero;
            var c22 = Vector256<short>.Zero;
            var c23 = Vector256<short>.Zero;
            var c30 = Vector256<short>.Zero;
            var c31 = Vector256<short>.Zero;
            var c32 = Vector256<short>.Zero;
            var c33 = Vector256<short>.Zero;
            for (int b = start; b < end; b++)
            {
                long wo = (long)b * TernaryCodes.BytesPerBlock, ao = (long)b * TernaryCodes.WeightsPerBlock;
                for (int step = 0; step < 8; step++)
                {
                    int group = step / 2, half = step % 2;
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
                    c00 += Avx2.MultiplyAddAdjacent(u0, x0);
                    c01 += Avx2.MultiplyAddAdjacent(u1, x0);
                    c02 += Avx2.MultiplyAddAdjacent(u2, x0);
                    c03 += Avx2.MultiplyAddAdjacent(u3, x0);
                    c10 += Avx2.MultiplyAddAdjacent(u0, x1);
                    c11 += Avx2.MultiplyAddAdjacent(u1, x1);
                    c12 += Avx2.MultiplyAddAdjacent(u2, x1);
                    c13 += Avx2.MultiplyAddAdjacent(u3, x1);
                    c20 += Avx2.MultiplyAddAdjacent(u0, x2);
                    c21 += Avx2.MultiplyAddAdjacent(u1, x2);
                    c22 += Avx2.MultiplyAddAdjacent(u2, x2);
                    c23 += Avx2.MultiplyAddAdjacent(u3, x2);
                    c30 += Avx2.MultiplyAddAdjacent(u0, x3);
                    c31 += Avx2.MultiplyAddAdjacent(u1, x3);
                    c32 += Avx2.MultiplyAddAdjacent(u2, x3);
                    c33 += Avx2.MultiplyAddAdjacent(u3, x3);
                }
            }
            t00 += Avx2.MultiplyAddAdjacent(c00, ones);
            t01 += Avx2.MultiplyAddAdjacent(c01, ones);
            t02 += Avx2.MultiplyAddAdjacent(c02, ones);
            t03 += Avx2.MultiplyAddAdjacent(c03, ones);
            t10 += Avx2.MultiplyAddAdjacent(c10, ones);
            t11 += Avx2.MultiplyAddAdjacent(c11, ones);
            t12 += Avx2.MultiplyAddAdjacent(c12, ones);
            t13 += Avx2.MultiplyAddAdjacent(c13, ones);
            t20 += Avx2.MultiplyAddAdjacent(c20, ones);
            t21 += Avx2.MultiplyAddAdjacent(c21, ones);
            t22 += Avx2.MultiplyAddAdjacent(c22, ones);
            t23 += Avx2.MultiplyAddAdjacent(c23, ones);
            t30 += Avx2.MultiplyAddAdjacent(c30, ones);
            t31 += Avx2.MultiplyAddAdjacent(c31, ones);
            t32 += Avx2.MultiplyAddAdjacent(c32, ones);
            t33 += Avx2.MultiplyAddAdjacent(c33, ones);
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
        var t00 = Vector256<int>.Zero;
        var t01 = Vector256<int>.Zero;
        var t02 = Vector256<int>.Zero;
        var t03 = Vector256<int>.Zero;
        for (int start = 0; start < blocks; start += KernelTuning.Avx2FlushBlocks)
        {
            int end = Math.Min(blocks, start + KernelTuning.Avx2FlushBlocks);
            var c00 = Vector256<short>.Zero;
            var c01 = Vector256<short>.Zero;
            var c02 = Vector256<short>.Zero;
            var c03 = Vector256<short>.Zero;
            for (int b = start; b < end; b++)
            {
                long wo = (long)b * TernaryCodes.BytesPerBlock, ao = (long)b * TernaryCodes.WeightsPerBlock;
                for (int step = 0; step < 8; step++)
                {
                    int group = step / 2, half = step % 2;
                    int shift = 6 - 2 * group;
                    long wp = wo + half * Width, ap = ao + group * TernaryCodes.GroupWidth + half * Width;
                    var u0 = Vec.ShiftRightLogical(Vec.Load(w0 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u1 = Vec.ShiftRightLogical(Vec.Load(w1 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u2 = Vec.ShiftRightLogical(Vec.Load(w2 + wp).AsUInt16(), shift).AsByte() & mask;
                    var u3 = Vec.ShiftRightLogical(Vec.Load(w3 + wp).AsUInt16(), shift).AsByte() & mask;
                    var x0 = Vec.Load(a0 + ap);
                    c00 += Avx2.MultiplyAddAdjacent(u0, x0);
                    c01 += Avx2.MultiplyAddAdjacent(u1, x0);
                    c02 += Avx2.MultiplyAddAdjacent(u2, x0);
                    c03 += Avx2.MultiplyAddAdjacent(u3, x0);
                }
            }
            t00 += Avx2.MultiplyAddAdjacent(c00, ones);
            t01 += Avx2.MultiplyAddAdjacent(c01, ones);
            t02 += Avx2.MultiplyAddAdjacent(c02, ones);
            t03 += Avx2.MultiplyAddAdjacent(c03, ones);
        }
        result[0] = Vec.Sum(t00);
        result[1] = Vec.Sum(t01);
        result[2] = Vec.Sum(t02);
        result[3] = Vec.Sum(t03);
    }
}
