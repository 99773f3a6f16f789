using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vec = System.Runtime.Intrinsics.Vector256;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// One 256-bit multiply-accumulate of the tiled kernels: 32 unsigned codes × 32 signed
/// activations into an accumulator that is widened to int32 every <see cref="FlushBlocks"/> blocks.
/// A struct, so that the JIT compiles <see cref="Tiled256TernaryKernel{TDot, TAcc}"/> once per
/// instruction set with the step inlined.
/// </summary>
public interface IDot256<TAcc> where TAcc : struct
{
    static abstract int FlushBlocks { get; }
    static abstract TAcc Zero { get; }
    static abstract TAcc Add(TAcc acc, Vector256<byte> codes, Vector256<sbyte> acts);
    static abstract Vector256<int> Widen(TAcc acc);
}

/// <summary>
/// The 256-bit tiled kernels (AVX2 <c>vpmaddubsw</c>, AVX-VNNI <c>vpdpbusd</c>): the same walk over
/// the blocks, 8 steps of 32 codes each, differing only in the multiply-accumulate.
/// </summary>
public abstract unsafe class Tiled256TernaryKernel<TDot, TAcc> : TiledTernaryKernel
    where TDot : struct, IDot256<TAcc>
    where TAcc : struct
{
    /// <summary>Bytes per vector: one load covers 32 weights of a group (and 32 activations).</summary>
    private const int Width = 32;

    // Hot: 4 rows × 4 tokens per pass; 16 accumulators stay in registers (32 with AVX-512 encodings).
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected sealed override void Tile4x4(byte* w0, byte* w1, byte* w2, byte* w3, long blockStride, int blocks,
        sbyte* a0, sbyte* a1, sbyte* a2, sbyte* a3, int* result)
    {
        var mask = Vec.Create((byte)3);
        var t = stackalloc Vector256<int>[16];
        for (int i = 0; i < 16; i++)
            t[i] = Vector256<int>.Zero;
        for (int start = 0; start < blocks; start += TDot.FlushBlocks)
        {
            int end = (int)Math.Min(blocks, (long)start + TDot.FlushBlocks);
            TAcc c00 = TDot.Zero, c01 = TDot.Zero, c02 = TDot.Zero, c03 = TDot.Zero;
            TAcc c10 = TDot.Zero, c11 = TDot.Zero, c12 = TDot.Zero, c13 = TDot.Zero;
            TAcc c20 = TDot.Zero, c21 = TDot.Zero, c22 = TDot.Zero, c23 = TDot.Zero;
            TAcc c30 = TDot.Zero, c31 = TDot.Zero, c32 = TDot.Zero, c33 = TDot.Zero;
            for (int b = start; b < end; b++)
            {
                long wo = b * blockStride, ao = (long)b * TernaryCodes.WeightsPerBlock;
                for (int step = 0; step < 8; step++)
                {
                    int group = step / 2, half = step % 2;
                    int shift = 6 - 2 * group;
                    long wp = wo + half * Width, ap = ao + group * TernaryCodes.GroupWidth + half * Width;
                    var u0 = Codes(w0 + wp, shift, mask);
                    var u1 = Codes(w1 + wp, shift, mask);
                    var u2 = Codes(w2 + wp, shift, mask);
                    var u3 = Codes(w3 + wp, shift, mask);
                    var x = Vec.Load(a0 + ap);
                    c00 = TDot.Add(c00, u0, x);
                    c01 = TDot.Add(c01, u1, x);
                    c02 = TDot.Add(c02, u2, x);
                    c03 = TDot.Add(c03, u3, x);
                    x = Vec.Load(a1 + ap);
                    c10 = TDot.Add(c10, u0, x);
                    c11 = TDot.Add(c11, u1, x);
                    c12 = TDot.Add(c12, u2, x);
                    c13 = TDot.Add(c13, u3, x);
                    x = Vec.Load(a2 + ap);
                    c20 = TDot.Add(c20, u0, x);
                    c21 = TDot.Add(c21, u1, x);
                    c22 = TDot.Add(c22, u2, x);
                    c23 = TDot.Add(c23, u3, x);
                    x = Vec.Load(a3 + ap);
                    c30 = TDot.Add(c30, u0, x);
                    c31 = TDot.Add(c31, u1, x);
                    c32 = TDot.Add(c32, u2, x);
                    c33 = TDot.Add(c33, u3, x);
                }
            }
            Widen4(t, 0, c00, c01, c02, c03);
            Widen4(t, 4, c10, c11, c12, c13);
            Widen4(t, 8, c20, c21, c22, c23);
            Widen4(t, 12, c30, c31, c32, c33);
        }
        for (int i = 0; i < 16; i++)
            result[i] = Vec.Sum(t[i]);
    }

    // Hot at batch 1: 4 independent accumulator chains over 4 rows keep the loads in flight.
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected sealed override void Tile4x1(byte* w0, byte* w1, byte* w2, byte* w3, long blockStride, int blocks, sbyte* a0, int* result)
    {
        var mask = Vec.Create((byte)3);
        var t = stackalloc Vector256<int>[4];
        for (int i = 0; i < 4; i++)
            t[i] = Vector256<int>.Zero;
        for (int start = 0; start < blocks; start += TDot.FlushBlocks)
        {
            int end = (int)Math.Min(blocks, (long)start + TDot.FlushBlocks);
            TAcc c0 = TDot.Zero, c1 = TDot.Zero, c2 = TDot.Zero, c3 = TDot.Zero;
            for (int b = start; b < end; b++)
            {
                long wo = b * blockStride, ao = (long)b * TernaryCodes.WeightsPerBlock;
                for (int step = 0; step < 8; step++)
                {
                    int group = step / 2, half = step % 2;
                    int shift = 6 - 2 * group;
                    long wp = wo + half * Width, ap = ao + group * TernaryCodes.GroupWidth + half * Width;
                    var x = Vec.Load(a0 + ap);
                    c0 = TDot.Add(c0, Codes(w0 + wp, shift, mask), x);
                    c1 = TDot.Add(c1, Codes(w1 + wp, shift, mask), x);
                    c2 = TDot.Add(c2, Codes(w2 + wp, shift, mask), x);
                    c3 = TDot.Add(c3, Codes(w3 + wp, shift, mask), x);
                }
            }
            Widen4(t, 0, c0, c1, c2, c3);
        }
        for (int i = 0; i < 4; i++)
            result[i] = Vec.Sum(t[i]);
    }

    /// <summary>32 codes of one group: the packed bytes shifted right by <paramref name="shift"/>, masked to 2 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Codes(byte* packed, int shift, Vector256<byte> mask) =>
        Vec.ShiftRightLogical(Vec.Load(packed).AsUInt16(), shift).AsByte() & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen4(Vector256<int>* totals, int at, TAcc a, TAcc b, TAcc c, TAcc d)
    {
        totals[at] += TDot.Widen(a);
        totals[at + 1] += TDot.Widen(b);
        totals[at + 2] += TDot.Widen(c);
        totals[at + 3] += TDot.Widen(d);
    }
}
