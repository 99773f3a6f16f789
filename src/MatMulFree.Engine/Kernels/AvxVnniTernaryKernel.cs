using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector256;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// AVX-VNNI: <c>vpdpbusd</c> multiplies 32 unsigned codes by 32 signed activations and adds
/// groups of four straight into 32-bit lanes: one instruction per 32 weights, no widening step.
/// </summary>
public sealed unsafe class AvxVnniTernaryKernel : TiledTernaryKernel
{
    /// <summary>Bytes per vector: one load covers 32 weights of a group (and 32 activations).</summary>
    private const int Width = 32;

    public static bool IsSupported => AvxVnni.IsSupported;

    public override string Name => "avxvnni";

    // Hot: 4 rows × 4 tokens per pass; 16 accumulators stay in registers (32 with AVX-512 encodings).
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Tile4x4(byte* w0, byte* w1, byte* w2, byte* w3, int blocks,
        sbyte* a0, sbyte* a1, sbyte* a2, sbyte* a3, int* result)
    {
        var mask = Vec.Create((byte)3);
        var c00 = Vector256<int>.Zero;
        var c01 = Vector256<int>.Zero;
        var c02 = Vector256<int>.Zero;
        var c03 = Vector256<int>.Zero;
        var c10 = Vector256<int>.Zero;
        var c11 = Vector256<int>.Zero;
        var c12 = Vector256<int>.Zero;
        var c13 = Vector256<int>.Zero;
        var c20 = Vector256<int>.Zero;
        var c21 = Vector256<int>.Zero;
        var c22 = Vector256<int>.Zero;
        var c23 = Vector256<int>.Zero;
        var c30 = Vector256<int>.Zero;
        var c31 = Vector256<int>.Zero;
        var c32 = Vector256<int>.Zero;
        var c33 = Vector256<int>.Zero;
        for (int b = 0; b < blocks; b++)
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
                c00 = AvxVnni.MultiplyWideningAndAdd(c00, u0, x0);
                c01 = AvxVnni.MultiplyWideningAndAdd(c01, u1, x0);
                c02 = AvxVnni.MultiplyWideningAndAdd(c02, u2, x0);
                c03 = AvxVnni.MultiplyWideningAndAdd(c03, u3, x0);
                c10 = AvxVnni.MultiplyWideningAndAdd(c10, u0, x1);
                c11 = AvxVnni.MultiplyWideningAndAdd(c11, u1, x1);
                c12 = AvxVnni.MultiplyWideningAndAdd(c12, u2, x1);
                c13 = AvxVnni.MultiplyWideningAndAdd(c13, u3, x1);
                c20 = AvxVnni.MultiplyWideningAndAdd(c20, u0, x2);
                c21 = AvxVnni.MultiplyWideningAndAdd(c21, u1, x2);
                c22 = AvxVnni.MultiplyWideningAndAdd(c22, u2, x2);
                c23 = AvxVnni.MultiplyWideningAndAdd(c23, u3, x2);
                c30 = AvxVnni.MultiplyWideningAndAdd(c30, u0, x3);
                c31 = AvxVnni.MultiplyWideningAndAdd(c31, u1, x3);
                c32 = AvxVnni.MultiplyWideningAndAdd(c32, u2, x3);
                c33 = AvxVnni.MultiplyWideningAndAdd(c33, u3, x3);
            }
        }
        result[0] = Vec.Sum(c00);
        result[1] = Vec.Sum(c01);
        result[2] = Vec.Sum(c02);
        result[3] = Vec.Sum(c03);
        result[4] = Vec.Sum(c10);
        result[5] = Vec.Sum(c11);
        result[6] = Vec.Sum(c12);
        result[7] = Vec.Sum(c13);
        result[8] = Vec.Sum(c20);
        result[9] = Vec.Sum(c21);
        result[10] = Vec.Sum(c22);
        result[11] = Vec.Sum(c23);
        result[12] = Vec.Sum(c30);
        result[13] = Vec.Sum(c31);
        result[14] = Vec.Sum(c32);
        result[15] = Vec.Sum(c33);
    }

    // Hot at batch 1: 4 independent accumulator chains over 4 rows keep the loads in flight.
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Tile4x1(byte* w0, byte* w1, byte* w2, byte* w3, int blocks, sbyte* a0, int* result)
    {
        var mask = Vec.Create((byte)3);
        var c00 = Vector256<int>.Zero;
        var c01 = Vector256<int>.Zero;
        var c02 = Vector256<int>.Zero;
        var c03 = Vector256<int>.Zero;
        for (int b = 0; b < blocks; b++)
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
                c00 = AvxVnni.MultiplyWideningAndAdd(c00, u0, x0);
                c01 = AvxVnni.MultiplyWideningAndAdd(c01, u1, x0);
                c02 = AvxVnni.MultiplyWideningAndAdd(c02, u2, x0);
                c03 = AvxVnni.MultiplyWideningAndAdd(c03, u3, x0);
            }
        }
        result[0] = Vec.Sum(c00);
        result[1] = Vec.Sum(c01);
        result[2] = Vec.Sum(c02);
        result[3] = Vec.Sum(c03);
    }
}
