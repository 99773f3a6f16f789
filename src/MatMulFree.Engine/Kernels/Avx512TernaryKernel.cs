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

    // Hot at batch > 1: 4 rows × 4 tokens per pass. Only the 16 int16 accumulators, 4 unpacked
    // weight vectors and one activation vector live in registers (22 of 32): an earlier version
    // also kept 16 int32 totals there and spilled in the inner loop. Totals go to the stack on
    // the rare flush (every KernelTuning.Avx512FlushBlocks blocks).
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Tile4x4(byte* w0, byte* w1, byte* w2, byte* w3, long blockStride, int blocks,
        sbyte* a0, sbyte* a1, sbyte* a2, sbyte* a3, int* result)
    {
        var mask = Vec.Create((byte)3);
        // Rows of up to 16 blocks (4,096 columns: every 370M projection, 1.3B and 2.7B but their down)
        // never flush: their int16 sums are widened and reduced once, straight from registers.
        bool flushes = blocks > KernelTuning.Avx512FlushBlocks;
        var totals = stackalloc Vector512<int>[flushes ? 16 : 0];
        for (int i = 0; i < (flushes ? 16 : 0); i++)
            totals[i] = Vector512<int>.Zero;
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
                long wp = b * blockStride, ao = (long)b * TernaryCodes.WeightsPerBlock;
                var p0 = Vec.Load(w0 + wp).AsUInt16();
                var p1 = Vec.Load(w1 + wp).AsUInt16();
                var p2 = Vec.Load(w2 + wp).AsUInt16();
                var p3 = Vec.Load(w3 + wp).AsUInt16();
                // Step 0: columns 0..63 of the block (bits 7–6); constant shifts encode as immediates.
                var u0 = Vec.ShiftRightLogical(p0, 6).AsByte() & mask;
                var u1 = Vec.ShiftRightLogical(p1, 6).AsByte() & mask;
                var u2 = Vec.ShiftRightLogical(p2, 6).AsByte() & mask;
                var u3 = Vec.ShiftRightLogical(p3, 6).AsByte() & mask;
                var x = Vec.Load(a0 + ao);
                c00 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c01 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c02 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c03 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a1 + ao);
                c10 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c11 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c12 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c13 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a2 + ao);
                c20 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c21 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c22 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c23 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a3 + ao);
                c30 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c31 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c32 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c33 += Avx512BW.MultiplyAddAdjacent(u3, x);
                // Step 1: bits 5–4.
                u0 = Vec.ShiftRightLogical(p0, 4).AsByte() & mask;
                u1 = Vec.ShiftRightLogical(p1, 4).AsByte() & mask;
                u2 = Vec.ShiftRightLogical(p2, 4).AsByte() & mask;
                u3 = Vec.ShiftRightLogical(p3, 4).AsByte() & mask;
                x = Vec.Load(a0 + ao + 1 * Width);
                c00 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c01 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c02 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c03 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a1 + ao + 1 * Width);
                c10 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c11 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c12 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c13 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a2 + ao + 1 * Width);
                c20 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c21 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c22 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c23 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a3 + ao + 1 * Width);
                c30 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c31 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c32 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c33 += Avx512BW.MultiplyAddAdjacent(u3, x);
                // Step 2: bits 3–2.
                u0 = Vec.ShiftRightLogical(p0, 2).AsByte() & mask;
                u1 = Vec.ShiftRightLogical(p1, 2).AsByte() & mask;
                u2 = Vec.ShiftRightLogical(p2, 2).AsByte() & mask;
                u3 = Vec.ShiftRightLogical(p3, 2).AsByte() & mask;
                x = Vec.Load(a0 + ao + 2 * Width);
                c00 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c01 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c02 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c03 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a1 + ao + 2 * Width);
                c10 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c11 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c12 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c13 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a2 + ao + 2 * Width);
                c20 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c21 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c22 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c23 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a3 + ao + 2 * Width);
                c30 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c31 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c32 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c33 += Avx512BW.MultiplyAddAdjacent(u3, x);
                // Step 3: bits 1–0.
                u0 = p0.AsByte() & mask;
                u1 = p1.AsByte() & mask;
                u2 = p2.AsByte() & mask;
                u3 = p3.AsByte() & mask;
                x = Vec.Load(a0 + ao + 3 * Width);
                c00 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c01 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c02 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c03 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a1 + ao + 3 * Width);
                c10 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c11 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c12 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c13 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a2 + ao + 3 * Width);
                c20 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c21 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c22 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c23 += Avx512BW.MultiplyAddAdjacent(u3, x);
                x = Vec.Load(a3 + ao + 3 * Width);
                c30 += Avx512BW.MultiplyAddAdjacent(u0, x);
                c31 += Avx512BW.MultiplyAddAdjacent(u1, x);
                c32 += Avx512BW.MultiplyAddAdjacent(u2, x);
                c33 += Avx512BW.MultiplyAddAdjacent(u3, x);
            }
            if (!flushes)
            {
                var ones = Vec.Create((short)1);
                Sum4(Avx512BW.MultiplyAddAdjacent(c00, ones), Avx512BW.MultiplyAddAdjacent(c01, ones),
                    Avx512BW.MultiplyAddAdjacent(c02, ones), Avx512BW.MultiplyAddAdjacent(c03, ones)).Store(result);
                Sum4(Avx512BW.MultiplyAddAdjacent(c10, ones), Avx512BW.MultiplyAddAdjacent(c11, ones),
                    Avx512BW.MultiplyAddAdjacent(c12, ones), Avx512BW.MultiplyAddAdjacent(c13, ones)).Store(result + 4);
                Sum4(Avx512BW.MultiplyAddAdjacent(c20, ones), Avx512BW.MultiplyAddAdjacent(c21, ones),
                    Avx512BW.MultiplyAddAdjacent(c22, ones), Avx512BW.MultiplyAddAdjacent(c23, ones)).Store(result + 8);
                Sum4(Avx512BW.MultiplyAddAdjacent(c30, ones), Avx512BW.MultiplyAddAdjacent(c31, ones),
                    Avx512BW.MultiplyAddAdjacent(c32, ones), Avx512BW.MultiplyAddAdjacent(c33, ones)).Store(result + 12);
                return;
            }
            Widen(totals, 0, c00, c01, c02, c03);
            Widen(totals, 4, c10, c11, c12, c13);
            Widen(totals, 8, c20, c21, c22, c23);
            Widen(totals, 12, c30, c31, c32, c33);
        }
        for (int i = 0; i < 16; i += 4)
            Sum4(totals[i], totals[i + 1], totals[i + 2], totals[i + 3]).Store(result + i);
    }

    // Hot at batch 1: each row's 64-byte block is loaded once and shifted four ways; 4 rows give
    // 4 independent accumulator chains, and in the tiled layout their blocks are adjacent: one
    // sequential stream for the prefetcher.
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Tile4x1(byte* w0, byte* w1, byte* w2, byte* w3, long blockStride, int blocks, sbyte* a0, int* result)
    {
        var mask = Vec.Create((byte)3);
        var ones = Vec.Create((short)1);
        var t0 = Vector512<int>.Zero;
        var t1 = Vector512<int>.Zero;
        var t2 = Vector512<int>.Zero;
        var t3 = Vector512<int>.Zero;
        for (int start = 0; start < blocks; start += KernelTuning.Avx512FlushBlocks)
        {
            int end = Math.Min(blocks, start + KernelTuning.Avx512FlushBlocks);
            var c0 = Vector512<short>.Zero;
            var c1 = Vector512<short>.Zero;
            var c2 = Vector512<short>.Zero;
            var c3 = Vector512<short>.Zero;
            for (int b = start; b < end; b++)
            {
                long wp = b * blockStride, ao = (long)b * TernaryCodes.WeightsPerBlock;
                var p0 = Vec.Load(w0 + wp).AsUInt16();
                var p1 = Vec.Load(w1 + wp).AsUInt16();
                var p2 = Vec.Load(w2 + wp).AsUInt16();
                var p3 = Vec.Load(w3 + wp).AsUInt16();
                var x = Vec.Load(a0 + ao);
                c0 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p0, 6).AsByte() & mask, x);
                c1 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p1, 6).AsByte() & mask, x);
                c2 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p2, 6).AsByte() & mask, x);
                c3 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p3, 6).AsByte() & mask, x);
                x = Vec.Load(a0 + ao + Width);
                c0 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p0, 4).AsByte() & mask, x);
                c1 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p1, 4).AsByte() & mask, x);
                c2 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p2, 4).AsByte() & mask, x);
                c3 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p3, 4).AsByte() & mask, x);
                x = Vec.Load(a0 + ao + 2 * Width);
                c0 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p0, 2).AsByte() & mask, x);
                c1 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p1, 2).AsByte() & mask, x);
                c2 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p2, 2).AsByte() & mask, x);
                c3 += Avx512BW.MultiplyAddAdjacent(Vec.ShiftRightLogical(p3, 2).AsByte() & mask, x);
                x = Vec.Load(a0 + ao + 3 * Width);
                c0 += Avx512BW.MultiplyAddAdjacent(p0.AsByte() & mask, x);
                c1 += Avx512BW.MultiplyAddAdjacent(p1.AsByte() & mask, x);
                c2 += Avx512BW.MultiplyAddAdjacent(p2.AsByte() & mask, x);
                c3 += Avx512BW.MultiplyAddAdjacent(p3.AsByte() & mask, x);
            }
            t0 += Avx512BW.MultiplyAddAdjacent(c0, ones);
            t1 += Avx512BW.MultiplyAddAdjacent(c1, ones);
            t2 += Avx512BW.MultiplyAddAdjacent(c2, ones);
            t3 += Avx512BW.MultiplyAddAdjacent(c3, ones);
        }
        Sum4(t0, t1, t2, t3).Store(result);
    }

    /// <summary>Adds four int16 accumulators, widened to int32 pairwise, to totals[at..at+4].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(Vector512<int>* totals, int at, Vector512<short> a, Vector512<short> b, Vector512<short> c, Vector512<short> d)
    {
        var ones = Vec.Create((short)1);
        totals[at] += Avx512BW.MultiplyAddAdjacent(a, ones);
        totals[at + 1] += Avx512BW.MultiplyAddAdjacent(b, ones);
        totals[at + 2] += Avx512BW.MultiplyAddAdjacent(c, ones);
        totals[at + 3] += Avx512BW.MultiplyAddAdjacent(d, ones);
    }

    /// <summary>The horizontal sums of four vectors, as one Vector128 (fewer shuffles than four <c>Vector512.Sum</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum4(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d)
    {
        var a2 = a.GetLower() + a.GetUpper();
        var b2 = b.GetLower() + b.GetUpper();
        var c2 = c.GetLower() + c.GetUpper();
        var d2 = d.GetLower() + d.GetUpper();
        var ab = Avx2.HorizontalAdd(a2, b2); // a01 a23 b01 b23 | a45 a67 b45 b67
        var cd = Avx2.HorizontalAdd(c2, d2);
        var abcd = Avx2.HorizontalAdd(ab, cd); // a b c d | a' b' c' d'
        return abcd.GetLower() + abcd.GetUpper();
    }
}
