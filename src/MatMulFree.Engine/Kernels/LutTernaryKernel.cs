using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector512;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The batched product by table lookup (T-MAC / bitnet.cpp TL2 style), for many tokens at once.
/// <para>
/// Weights: every 3 consecutive columns of a row form a group whose trits (t₀, t₁, t₂) are one
/// base-3 index 9(t₀+1) + 3(t₁+1) + (t₂+1) ∈ [0, 27), a byte (<see cref="BuildIndex"/>). Groups go
/// in pairs, stored for 32 rows side by side: [row block of 32][pair][64 bytes], byte 2i holding
/// row i's even group and byte 2i + 1 its odd one. Activations: per token and group, the 27 signed
/// sums Σ tᵢ·aᵢ as int16, padded to 32 (<see cref="BuildTables"/>). Then one <c>vpermw</c>
/// (<see cref="Avx512BW.PermuteVar32x16"/>) looks up 32 rows' partial sums for one token and
/// group — 96 multiply-adds — and one <c>vpaddw</c> adds them up, against 64 for the
/// <c>vpmaddubsw</c> kernel's pair. <c>vpermw</c> reads only the low 5 bits of each 16-bit index,
/// so a 64-byte load of a pair serves the even group as it stands and the odd one after a shift
/// by 8: no widening of the index (a shuffle, competing with the lookups for the same pipes).
/// </para>
/// <para>
/// A pass takes 4 tokens × 128 rows over <see cref="ChunkPairs"/> pairs of groups: each table
/// vector is loaded once for 4 lookups, each index vector once for 4 tokens (16 accumulators,
/// 8 indices, 1 table). The columns are cut into chunks and the rows into panels of
/// <see cref="PanelRows"/>, so that one chunk of every token's tables (32 tokens a thread at batch
/// 64: 172 KiB) and one panel's int32 sums (128 KiB) stay in L2 while the rows go by; whole
/// tables, 1.4–3.8 MB at batch 64, used to stream from L3 for every 128 rows.
/// </para>
/// <para>
/// Bounds: |Σ tᵢ·aᵢ| ≤ 3·128 = 384 per group, so an int16 accumulator takes 85 groups; a chunk is
/// 84 (32,256), widened to int32 at its end. Sums are of T·q, not of the codes T + 1: the caller
/// does not subtract Σq.
/// </para>
/// <para>
/// The index costs 8 bits per 3 weights (2.67 bits), beside the 2-bit codes that batch 1 reads:
/// it is built in memory, per matrix, the first time a batched product needs it.
/// </para>
/// </summary>
public static unsafe class LutTernaryKernel
{
    public const int GroupSize = 3;
    public const int RowsPerBlock = 32;
    public const int TableEntries = 32;

    /// <summary>Pairs of groups per chunk: 84 groups · 384 stays inside int16.</summary>
    public const int ChunkPairs = 42;
    private const int PairBytes = 2 * RowsPerBlock;
    public const int TokenTile = 4;
    private const int BlockTile = 4;
    /// <summary>Rows whose int32 sums (at 32 tokens, 128 KiB) stay in L2 while the chunks of columns go by.</summary>
    private const int PanelRows = 1024;

    public static bool IsSupported => Avx512BW.IsSupported;

    public static int Groups(int columns) => (columns + GroupSize - 1) / GroupSize;

    /// <summary>Pairs of groups: an odd last group is paired with a group of zero trits.</summary>
    public static int Pairs(int columns) => (Groups(columns) + 1) / 2;

    public static int RowBlocks(int rows) => (rows + RowsPerBlock - 1) / RowsPerBlock;

    public static long IndexBytes(int rows, int columns) => (long)RowBlocks(rows) * Pairs(columns) * PairBytes;

    /// <summary>Table bytes per token: <see cref="TableEntries"/> int16 per group, the padding group included.</summary>
    public static long TableBytes(int columns) => 2L * Pairs(columns) * TableEntries * sizeof(short);

    /// <summary>Where row <paramref name="row"/>'s index of group <paramref name="group"/> lives.</summary>
    private static long IndexOffset(int pairs, int row, int group) =>
        ((long)(row / RowsPerBlock) * pairs + group / 2) * PairBytes + 2 * (row % RowsPerBlock) + group % 2;

    /// <summary>
    /// The group indices of a tiled 2-bit matrix. Columns past the last, the padding group and
    /// rows past the last (up to the block of 32) hold trit 0, index 13.
    /// </summary>
    public static void BuildIndex(PackedTernaryMatrix w, Span<byte> index)
    {
        int pairs = Pairs(w.Columns);
        if (index.Length != IndexBytes(w.Rows, w.Columns))
            throw new ArgumentException($"index holds {index.Length} bytes, needs {IndexBytes(w.Rows, w.Columns)}", nameof(index));
        var matrix = new ReadOnlySpan<byte>(w.Data, checked((int)w.ByteLength));
        for (int r = 0; r < RowBlocks(w.Rows) * RowsPerBlock; r++)
            for (int g = 0; g < 2 * pairs; g++)
            {
                int value = 0;
                for (int i = 0; i < GroupSize; i++)
                {
                    int column = g * GroupSize + i;
                    int code = r < w.Rows && column < w.Columns ? TernaryCodes.Code(matrix, w.Rows, w.RowBytes, r, column) : 1;
                    value = value * 3 + code;
                }
                index[(int)IndexOffset(pairs, r, g)] = (byte)value;
            }
    }

    /// <summary>Token's 27 group sums (+5 zeros) for every group of <paramref name="columns"/> int8 activations, and zeros for the padding group.</summary>
    public static void BuildTables(sbyte* acts, int columns, short* tables, bool simd = true)
    {
        if (simd && IsSupported)
            BuildTablesAvx512(acts, columns, tables);
        else
            BuildTablesScalar(acts, columns, tables);
    }

    public static void BuildTablesScalar(sbyte* acts, int columns, short* tables)
    {
        for (int g = 0; g < 2 * Pairs(columns); g++)
            BuildTableScalar(acts, columns, g, tables);
    }

    private static int Act(sbyte* acts, int columns, int column) => column < columns ? acts[column] : 0;

    private static int Trit(int entry, int position) => entry < 27 ? entry / (position == 0 ? 9 : position == 1 ? 3 : 1) % 3 - 1 : 0;

    // For vpmaddubsw: the trits of entry i as signed bytes beside each other, (t₀, t₁) and (t₂, 0),
    // and the bias the unsigned activations (a + 128) add to entry i: 128·(t₀ + t₁ + t₂).
    private static readonly sbyte[] TritPairs01 = Enumerable.Range(0, 2 * TableEntries).Select(k => (sbyte)Trit(k / 2, k % 2)).ToArray();
    private static readonly sbyte[] TritPairs2 = Enumerable.Range(0, 2 * TableEntries).Select(k => (sbyte)(k % 2 == 0 ? Trit(k / 2, 2) : 0)).ToArray();
    private static readonly short[] Bias = Enumerable.Range(0, TableEntries).Select(i => (short)(128 * (Trit(i, 0) + Trit(i, 1) + Trit(i, 2)))).ToArray();

    /// <summary>Groups per 64-byte piece of biased activations (63 columns, and the byte after the last group's).</summary>
    private const int PieceGroups = 21;

    // A table is two vpmaddubsw of broadcast activation pairs against constant trit pairs: the
    // activations made unsigned (a + 128, the operand vpmaddubsw wants unsigned), the bias taken off
    // after. 2 multiply-adds, an add and a subtract per group, against 3 scalar-to-vector broadcasts
    // and 3 multiplies (5.7 cycles a group here, 13 % of a d × d product's lookups).
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BuildTablesAvx512(sbyte* acts, int columns, short* tables)
    {
        var pairs01 = Vec.Create(TritPairs01);
        var pairs2 = Vec.Create(TritPairs2);
        var bias = Vec.Create(Bias);
        var flip = Vec.Create((byte)0x80);
        byte* piece = stackalloc byte[64];
        int groups = 2 * Pairs(columns);
        for (int g0 = 0; g0 < groups; g0 += PieceGroups)
        {
            int c0 = g0 * GroupSize;
            if (c0 + 64 <= columns)
                (Vec.Load((byte*)acts + c0) ^ flip).Store(piece);
            else // the row's end: columns past the last count as 0, i.e. 128 once biased
                for (int k = 0; k < 64; k++)
                    piece[k] = c0 + k < columns ? (byte)(acts[c0 + k] ^ 0x80) : (byte)0x80;
            int end = Math.Min(groups, g0 + PieceGroups);
            for (int g = g0; g < end; g++)
            {
                byte* a = piece + (g - g0) * GroupSize;
                var a01 = Vec.Create(*(ushort*)a).AsByte();
                var a2 = Vec.Create(*(ushort*)(a + 2)).AsByte();
                (Avx512BW.MultiplyAddAdjacent(a01, pairs01) + Avx512BW.MultiplyAddAdjacent(a2, pairs2) - bias).Store(tables + (long)g * TableEntries);
            }
        }
    }

    /// <summary>Group <paramref name="g"/>'s table: entry i = Σ tᵢ·aᵢ with the trits of index i (columns past the last count as 0).</summary>
    private static void BuildTableScalar(sbyte* acts, int columns, int g, short* tables)
    {
        int a0 = Act(acts, columns, g * 3), a1 = Act(acts, columns, g * 3 + 1), a2 = Act(acts, columns, g * 3 + 2);
        for (int i = 0; i < TableEntries; i++)
            tables[(long)g * TableEntries + i] = i < 27 ? (short)((i / 9 - 1) * a0 + (i / 3 % 3 - 1) * a1 + (i % 3 - 1) * a2) : (short)0;
    }

    /// <summary>
    /// dst[t·dstStride + r] = Σ T·q for rows [rowStart, rowEnd) (multiples of 32, or rowEnd = rows) and
    /// <paramref name="tokens"/> tokens whose tables are <paramref name="tableStride"/> int16 apart.
    /// </summary>
    public static void Products(byte* index, int rows, int columns, int rowStart, int rowEnd,
        short* tables, long tableStride, int tokens, int* dst, int dstStride, bool simd = true)
    {
        if (simd && IsSupported)
            ProductsAvx512(index, rows, columns, rowStart, rowEnd, tables, tableStride, tokens, dst, dstStride);
        else
            ProductsScalar(index, rows, columns, rowStart, rowEnd, tables, tableStride, tokens, dst, dstStride);
    }

    public static void ProductsScalar(byte* index, int rows, int columns, int rowStart, int rowEnd,
        short* tables, long tableStride, int tokens, int* dst, int dstStride)
    {
        int groups = Groups(columns), pairs = Pairs(columns);
        for (int t = 0; t < tokens; t++)
            for (int r = rowStart; r < rowEnd; r++)
            {
                short* table = tables + t * tableStride;
                int sum = 0;
                for (int g = 0; g < groups; g++)
                    sum += table[(long)g * TableEntries + index[IndexOffset(pairs, r, g)]];
                dst[(long)t * dstStride + r] = sum;
            }
    }

    [SkipLocalsInit]
    private static void ProductsAvx512(byte* index, int rows, int columns, int rowStart, int rowEnd,
        short* tables, long tableStride, int tokens, int* dst, int dstStride)
    {
        if (rowStart % RowsPerBlock != 0)
            throw new ArgumentException($"rowStart {rowStart} is not a multiple of {RowsPerBlock}", nameof(rowStart));
        int pairs = Pairs(columns);
        long blockBytes = (long)pairs * PairBytes;
        int* sums = stackalloc int[TokenTile * BlockTile * RowsPerBlock];
        for (int panel = rowStart; panel < rowEnd; panel += PanelRows)
        {
            int panelEnd = Math.Min(rowEnd, panel + PanelRows);
            for (int p = 0; p < pairs; p += ChunkPairs)
            {
                int chunk = Math.Min(ChunkPairs, pairs - p);
                for (int t = 0; t < tokens; t += TokenTile)
                {
                    // A short tile repeats its first token (or block); the surplus sums are discarded.
                    int count = Math.Min(TokenTile, tokens - t);
                    short* t0 = tables + t * tableStride + (long)p * 2 * TableEntries;
                    short* t1 = count > 1 ? t0 + tableStride : t0;
                    short* t2 = count > 2 ? t0 + 2 * tableStride : t0;
                    short* t3 = count > 3 ? t0 + 3 * tableStride : t0;
                    for (int r = panel; r < panelEnd; r += BlockTile * RowsPerBlock)
                    {
                        int blocks = Math.Min(BlockTile, (panelEnd - r + RowsPerBlock - 1) / RowsPerBlock);
                        byte* i0 = index + (long)(r / RowsPerBlock) * blockBytes + (long)p * PairBytes;
                        byte* i1 = blocks > 1 ? i0 + blockBytes : i0;
                        byte* i2 = blocks > 2 ? i0 + 2 * blockBytes : i0;
                        byte* i3 = blocks > 3 ? i0 + 3 * blockBytes : i0;
                        if (count == TokenTile && r + BlockTile * RowsPerBlock <= Math.Min(panelEnd, rows))
                        {
                            // A whole tile: its sums go straight into dst.
                            Tile(i0, i1, i2, i3, t0, t1, t2, t3, chunk, dst + (long)t * dstStride + r, dstStride, accumulate: p > 0);
                            continue;
                        }
                        Tile(i0, i1, i2, i3, t0, t1, t2, t3, chunk, sums, BlockTile * RowsPerBlock, accumulate: false);
                        for (int s = 0; s < count; s++)
                            for (int b = 0; b < blocks; b++)
                            {
                                int first = r + b * RowsPerBlock, n = Math.Min(RowsPerBlock, Math.Min(panelEnd, rows) - first);
                                Emit(sums + s * BlockTile * RowsPerBlock + b * RowsPerBlock, dst + (long)(t + s) * dstStride + first, n, accumulate: p > 0);
                            }
                    }
                }
            }
        }
    }

    /// <summary>Stores (or adds) one block's sums of a partial tile, in inline vectors (a memmove call per 32 sums showed in the profile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Emit(int* from, int* to, int n, bool accumulate)
    {
        if (n == RowsPerBlock)
        {
            var lo = Vec.Load(from);
            var hi = Vec.Load(from + 16);
            if (accumulate)
            {
                lo += Vec.Load(to);
                hi += Vec.Load(to + 16);
            }
            lo.Store(to);
            hi.Store(to + 16);
            return;
        }
        for (int i = 0; i < n; i++)
            to[i] = accumulate ? to[i] + from[i] : from[i];
    }

    /// <summary>
    /// 4 tokens × 4 blocks of 32 rows over <paramref name="pairs"/> pairs of groups: row i of block b
    /// against token s goes to (or, <paramref name="accumulate"/>, is added to) sums[s·stride + b·32 + i].
    /// </summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(byte* i0, byte* i1, byte* i2, byte* i3, short* t0, short* t1, short* t2, short* t3, int pairs,
        int* sums, long stride, bool accumulate)
    {
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
        var x0 = Vector512<short>.Zero;
        var x1 = Vector512<short>.Zero;
        var x2 = Vector512<short>.Zero;
        var x3 = Vector512<short>.Zero;
        for (int g = 0; g < 2 * pairs; g++)
        {
            if ((g & 1) == 0)
            {
                // The even group of a pair: vpermw takes the low 5 bits of each word, the even byte.
                long io = (long)(g >> 1) * PairBytes;
                x0 = Vec.Load(i0 + io).AsInt16();
                x1 = Vec.Load(i1 + io).AsInt16();
                x2 = Vec.Load(i2 + io).AsInt16();
                x3 = Vec.Load(i3 + io).AsInt16();
            }
            else
            {
                // The odd group: the odd byte, shifted down.
                x0 = Vec.ShiftRightLogical(x0.AsUInt16(), 8).AsInt16();
                x1 = Vec.ShiftRightLogical(x1.AsUInt16(), 8).AsInt16();
                x2 = Vec.ShiftRightLogical(x2.AsUInt16(), 8).AsInt16();
                x3 = Vec.ShiftRightLogical(x3.AsUInt16(), 8).AsInt16();
            }
            long to = (long)g * TableEntries;
            var table = Vec.Load(t0 + to);
            c00 += Avx512BW.PermuteVar32x16(table, x0);
            c01 += Avx512BW.PermuteVar32x16(table, x1);
            c02 += Avx512BW.PermuteVar32x16(table, x2);
            c03 += Avx512BW.PermuteVar32x16(table, x3);
            table = Vec.Load(t1 + to);
            c10 += Avx512BW.PermuteVar32x16(table, x0);
            c11 += Avx512BW.PermuteVar32x16(table, x1);
            c12 += Avx512BW.PermuteVar32x16(table, x2);
            c13 += Avx512BW.PermuteVar32x16(table, x3);
            table = Vec.Load(t2 + to);
            c20 += Avx512BW.PermuteVar32x16(table, x0);
            c21 += Avx512BW.PermuteVar32x16(table, x1);
            c22 += Avx512BW.PermuteVar32x16(table, x2);
            c23 += Avx512BW.PermuteVar32x16(table, x3);
            table = Vec.Load(t3 + to);
            c30 += Avx512BW.PermuteVar32x16(table, x0);
            c31 += Avx512BW.PermuteVar32x16(table, x1);
            c32 += Avx512BW.PermuteVar32x16(table, x2);
            c33 += Avx512BW.PermuteVar32x16(table, x3);
        }
        Widen(sums, accumulate, c00, c01, c02, c03);
        Widen(sums + stride, accumulate, c10, c11, c12, c13);
        Widen(sums + 2 * stride, accumulate, c20, c21, c22, c23);
        Widen(sums + 3 * stride, accumulate, c30, c31, c32, c33);
    }

    /// <summary>Sign-extends one token's four int16 accumulators (4 blocks of 32 rows) into, or onto, sums[0..128).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(int* sums, bool accumulate, Vector512<short> a, Vector512<short> b, Vector512<short> c, Vector512<short> d)
    {
        Widen(sums, accumulate, a);
        Widen(sums + RowsPerBlock, accumulate, b);
        Widen(sums + 2 * RowsPerBlock, accumulate, c);
        Widen(sums + 3 * RowsPerBlock, accumulate, d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(int* sums, bool accumulate, Vector512<short> block)
    {
        var lo = Avx512F.ConvertToVector512Int32(block.GetLower());
        var hi = Avx512F.ConvertToVector512Int32(block.GetUpper());
        if (accumulate)
        {
            lo += Vec.Load(sums);
            hi += Vec.Load(sums + 16);
        }
        lo.Store(sums);
        hi.Store(sums + 16);
    }
}
