using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vec = System.Runtime.Intrinsics.Vector512;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The batched product by table lookup (T-MAC / bitnet.cpp TL2 style), for many tokens at once.
/// <para>
/// Weights: every 3 consecutive columns of a row form a group whose trits (t₀, t₁, t₂) are one
/// base-3 index 9(t₀+1) + 3(t₁+1) + (t₂+1) ∈ [0, 27), a byte (<see cref="BuildIndex"/>), stored
/// for 32 rows side by side: [row block of 32][group][32 bytes]. Activations: per token and group,
/// the 27 signed sums Σ tᵢ·aᵢ as int16, padded to 32 (<see cref="BuildTables"/>). Then one
/// <c>vpermw</c> (<see cref="Avx512BW.PermuteVar32x16"/>) looks up 32 rows' partial sums for one
/// token and group — 96 multiply-adds — and one <c>vpaddw</c> adds them up, against 64 for the
/// <c>vpmaddubsw</c> kernel's pair. A pass takes 4 tokens × 128 rows: each table vector is loaded
/// once for 4 lookups, each index vector once for 4 tokens (16 accumulators, 4 indices, 1 table).
/// </para>
/// <para>
/// Bounds: |Σ tᵢ·aᵢ| ≤ 3·128 = 384 per group, so an int16 accumulator takes <see cref="FlushGroups"/>
/// = 85 groups (32,640) before it is widened to int32. Sums are of T·q, not of the codes T + 1:
/// the caller does not subtract Σq.
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
    public const int FlushGroups = 85;
    private const int TokenTile = 4;
    private const int BlockTile = 4;

    public static bool IsSupported => Avx512BW.IsSupported;

    public static int Groups(int columns) => (columns + GroupSize - 1) / GroupSize;

    public static int RowBlocks(int rows) => (rows + RowsPerBlock - 1) / RowsPerBlock;

    public static long IndexBytes(int rows, int columns) => (long)RowBlocks(rows) * Groups(columns) * RowsPerBlock;

    /// <summary>Table bytes per token: <see cref="TableEntries"/> int16 per group.</summary>
    public static long TableBytes(int columns) => (long)Groups(columns) * TableEntries * sizeof(short);

    /// <summary>
    /// The group indices of a tiled 2-bit matrix. Columns past the last and rows past the last
    /// (up to the block of 32) hold trit 0, index 13.
    /// </summary>
    public static void BuildIndex(PackedTernaryMatrix w, Span<byte> index)
    {
        int groups = Groups(w.Columns);
        if (index.Length != IndexBytes(w.Rows, w.Columns))
            throw new ArgumentException($"index holds {index.Length} bytes, needs {IndexBytes(w.Rows, w.Columns)}", nameof(index));
        var matrix = new ReadOnlySpan<byte>(w.Data, checked((int)w.ByteLength));
        for (int r = 0; r < RowBlocks(w.Rows) * RowsPerBlock; r++)
            for (int g = 0; g < groups; g++)
            {
                int value = 0;
                for (int i = 0; i < GroupSize; i++)
                {
                    int column = g * GroupSize + i;
                    int code = r < w.Rows && column < w.Columns ? TernaryCodes.Code(matrix, w.Rows, w.RowBytes, r, column) : 1;
                    value = value * 3 + code;
                }
                index[(int)(((long)(r / RowsPerBlock) * groups + g) * RowsPerBlock + r % RowsPerBlock)] = (byte)value;
            }
    }

    /// <summary>Token's 27 group sums (+5 zeros) for every group of <paramref name="columns"/> int8 activations.</summary>
    public static void BuildTables(sbyte* acts, int columns, short* tables, bool simd = true)
    {
        if (simd && IsSupported)
            BuildTablesAvx512(acts, columns, tables);
        else
            BuildTablesScalar(acts, columns, tables);
    }

    public static void BuildTablesScalar(sbyte* acts, int columns, short* tables)
    {
        for (int g = 0; g < Groups(columns); g++)
            BuildTableScalar(acts, columns, g, tables);
    }

    private static int Act(sbyte* acts, int columns, int column) => column < columns ? acts[column] : 0;

    private static readonly short[] Trit0 = TritOfEntry(9), Trit1 = TritOfEntry(3), Trit2 = TritOfEntry(1);

    private static short[] TritOfEntry(int weight) =>
        Enumerable.Range(0, TableEntries).Select(i => i < 27 ? (short)(i / weight % 3 - 1) : (short)0).ToArray();

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BuildTablesAvx512(sbyte* acts, int columns, short* tables)
    {
        var t0 = Vec.Create(Trit0);
        var t1 = Vec.Create(Trit1);
        var t2 = Vec.Create(Trit2);
        int full = columns / GroupSize;
        for (int g = 0; g < full; g++)
        {
            sbyte* a = acts + g * GroupSize;
            (t0 * Vec.Create((short)a[0]) + t1 * Vec.Create((short)a[1]) + t2 * Vec.Create((short)a[2])).Store(tables + (long)g * TableEntries);
        }
        if (full < Groups(columns))
            BuildTableScalar(acts, columns, full, tables);
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
        int groups = Groups(columns);
        for (int t = 0; t < tokens; t++)
            for (int r = rowStart; r < rowEnd; r++)
            {
                byte* idx = index + (long)(r / RowsPerBlock) * groups * RowsPerBlock + r % RowsPerBlock;
                short* table = tables + t * tableStride;
                int sum = 0;
                for (int g = 0; g < groups; g++)
                    sum += table[(long)g * TableEntries + idx[(long)g * RowsPerBlock]];
                dst[(long)t * dstStride + r] = sum;
            }
    }

    [SkipLocalsInit]
    private static void ProductsAvx512(byte* index, int rows, int columns, int rowStart, int rowEnd,
        short* tables, long tableStride, int tokens, int* dst, int dstStride)
    {
        if (rowStart % RowsPerBlock != 0)
            throw new ArgumentException($"rowStart {rowStart} is not a multiple of {RowsPerBlock}", nameof(rowStart));
        int groups = Groups(columns);
        long blockBytes = (long)groups * RowsPerBlock;
        int* sums = stackalloc int[TokenTile * BlockTile * RowsPerBlock];
        for (int r = rowStart; r < rowEnd; r += BlockTile * RowsPerBlock)
        {
            int blocks = Math.Min(BlockTile, (rowEnd - r + RowsPerBlock - 1) / RowsPerBlock);
            // A short tile repeats its first block (or token); the surplus sums are discarded.
            byte* i0 = index + (long)(r / RowsPerBlock) * blockBytes;
            byte* i1 = blocks > 1 ? i0 + blockBytes : i0;
            byte* i2 = blocks > 2 ? i0 + 2 * blockBytes : i0;
            byte* i3 = blocks > 3 ? i0 + 3 * blockBytes : i0;
            for (int t = 0; t < tokens; t += TokenTile)
            {
                int count = Math.Min(TokenTile, tokens - t);
                short* t0 = tables + t * tableStride;
                short* t1 = count > 1 ? t0 + tableStride : t0;
                short* t2 = count > 2 ? t0 + 2 * tableStride : t0;
                short* t3 = count > 3 ? t0 + 3 * tableStride : t0;
                Tile(i0, i1, i2, i3, t0, t1, t2, t3, groups, sums);
                for (int s = 0; s < count; s++)
                    for (int b = 0; b < blocks; b++)
                    {
                        int first = r + b * RowsPerBlock, n = Math.Min(RowsPerBlock, Math.Min(rowEnd, rows) - first);
                        new ReadOnlySpan<int>(sums + (s * BlockTile + b) * RowsPerBlock, n).CopyTo(new Span<int>(dst + (long)(t + s) * dstStride + first, n));
                    }
            }
        }
    }

    /// <summary>4 tokens × 4 blocks of 32 rows; sums[(s·4 + b)·32 + i] is row i of block b against token s.</summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(byte* i0, byte* i1, byte* i2, byte* i3, short* t0, short* t1, short* t2, short* t3, int groups, int* sums)
    {
        var totals = stackalloc Vector512<int>[32];
        for (int i = 0; i < 32; i++)
            totals[i] = Vector512<int>.Zero;
        for (int start = 0; start < groups; start += FlushGroups)
        {
            int end = Math.Min(groups, start + FlushGroups);
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
            for (int g = start; g < end; g++)
            {
                long io = (long)g * RowsPerBlock, to = (long)g * TableEntries;
                var x0 = Avx512BW.ConvertToVector512Int16(Vector256.Load(i0 + io));
                var x1 = Avx512BW.ConvertToVector512Int16(Vector256.Load(i1 + io));
                var x2 = Avx512BW.ConvertToVector512Int16(Vector256.Load(i2 + io));
                var x3 = Avx512BW.ConvertToVector512Int16(Vector256.Load(i3 + io));
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
            Widen(totals, 0, c00, c01, c02, c03);
            Widen(totals, 8, c10, c11, c12, c13);
            Widen(totals, 16, c20, c21, c22, c23);
            Widen(totals, 24, c30, c31, c32, c33);
        }
        for (int i = 0; i < 32; i++)
            totals[i].Store(sums + i * 16);
    }

    /// <summary>Sign-extends four int16 accumulators (32 rows each) into totals[at..at+8].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(Vector512<int>* totals, int at, Vector512<short> a, Vector512<short> b, Vector512<short> c, Vector512<short> d)
    {
        totals[at] += Avx512F.ConvertToVector512Int32(a.GetLower());
        totals[at + 1] += Avx512F.ConvertToVector512Int32(a.GetUpper());
        totals[at + 2] += Avx512F.ConvertToVector512Int32(b.GetLower());
        totals[at + 3] += Avx512F.ConvertToVector512Int32(b.GetUpper());
        totals[at + 4] += Avx512F.ConvertToVector512Int32(c.GetLower());
        totals[at + 5] += Avx512F.ConvertToVector512Int32(c.GetUpper());
        totals[at + 6] += Avx512F.ConvertToVector512Int32(d.GetLower());
        totals[at + 7] += Avx512F.ConvertToVector512Int32(d.GetUpper());
    }
}
