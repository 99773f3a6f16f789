namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The integer heart of BitLinear: for packed ternary rows (see <see cref="TernaryCodes"/>) and
/// int8 activation rows, <c>dst[t·dstStride + r] = Σ_k c[r,k] · q[t,k]</c> with c = T + 1.
/// One sealed subclass per instruction set; <see cref="ScalarTernaryKernel"/> is the reference.
/// </summary>
public abstract unsafe class TernaryKernel
{
    public abstract string Name { get; }

    /// <summary>
    /// Rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of a tiled matrix of
    /// <paramref name="rows"/> rows of <paramref name="rowBytes"/> bytes (see <see cref="TernaryCodes"/>),
    /// against <paramref name="tokens"/> activation rows of at least rowBytes·4 bytes each (zero past
    /// the real columns), <paramref name="actStride"/> apart.
    /// </summary>
    public abstract void Products(byte* packed, int rows, int rowBytes, int rowStart, int rowEnd,
        sbyte* acts, int actStride, int tokens, int* dst, int dstStride);
}

/// <summary>
/// A SIMD kernel cut into tiles of 4 weight rows × 4 tokens: each weight vector is unpacked once
/// and used for 4 tokens, each activation vector loaded once and used for 4 rows — the reuse that
/// makes batched decode compute-bound rather than bound by unpacking.
/// </summary>
public abstract unsafe class TiledTernaryKernel : TernaryKernel
{
    public sealed override void Products(byte* packed, int rows, int rowBytes, int rowStart, int rowEnd,
        sbyte* acts, int actStride, int tokens, int* dst, int dstStride)
    {
        int blocks = rowBytes / TernaryCodes.BytesPerBlock;
        int* tile = stackalloc int[KernelTuning.RowTile * KernelTuning.TokenTile];
        // Rows go in panels that fit L1 beside one token tile's activations: each token tile is
        // then read from L2 once per panel rather than once per 4 rows (at batch 64 and 1,024
        // columns the activations are 64 KiB, twice L1).
        int panel = Math.Max(1, KernelTuning.PanelBytes / Math.Max(1, rowBytes * KernelTuning.RowTile)) * KernelTuning.RowTile;
        for (int p = rowStart; p < rowEnd; p = Math.Min(rowEnd, p - p % KernelTuning.RowTile + panel))
        {
            int panelEnd = Math.Min(rowEnd, p - p % KernelTuning.RowTile + panel);
            int t = 0;
            for (; t + KernelTuning.TokenTile <= tokens; t += KernelTuning.TokenTile)
            {
                sbyte* a = acts + (long)t * actStride;
                for (int r = p; r < panelEnd;)
                {
                    var g = new RowGroup(packed, rows, rowBytes, r, panelEnd);
                    Tile4x4(g.W0, g.W1, g.W2, g.W3, g.BlockStride, blocks, a, a + actStride, a + 2L * actStride, a + 3L * actStride, tile);
                    for (int s = 0; s < KernelTuning.TokenTile; s++)
                        for (int i = 0; i < g.Count; i++)
                            dst[(long)(t + s) * dstStride + r + i] = tile[s * 4 + i];
                    r += g.Count;
                }
            }
            for (; t < tokens; t++)
            {
                for (int r = p; r < panelEnd;)
                {
                    var g = new RowGroup(packed, rows, rowBytes, r, panelEnd);
                    Tile4x1(g.W0, g.W1, g.W2, g.W3, g.BlockStride, blocks, acts + (long)t * actStride, tile);
                    for (int i = 0; i < g.Count; i++)
                        dst[(long)t * dstStride + r + i] = tile[i];
                    r += g.Count;
                }
            }
        }
    }

    /// <summary>
    /// Up to 4 rows from <c>row</c> that share a storage tile, as the tile kernels take them: a
    /// short group repeats its first row, and the surplus sums are discarded.
    /// </summary>
    private readonly struct RowGroup
    {
        public readonly byte* W0, W1, W2, W3;
        public readonly int Count;
        public readonly long BlockStride;

        public RowGroup(byte* packed, int rows, int rowBytes, int row, int end)
        {
            int tileStart = row - row % TernaryCodes.RowsPerTile;
            int stride = TernaryCodes.TileBlockStride(rows, tileStart);
            Count = Math.Min(end, tileStart + stride / TernaryCodes.BytesPerBlock) - row;
            BlockStride = stride;
            W0 = packed + (long)tileStart * rowBytes + (long)(row - tileStart) * TernaryCodes.BytesPerBlock;
            W1 = Count > 1 ? W0 + TernaryCodes.BytesPerBlock : W0;
            W2 = Count > 2 ? W0 + 2 * TernaryCodes.BytesPerBlock : W0;
            W3 = Count > 3 ? W0 + 3 * TernaryCodes.BytesPerBlock : W0;
        }
    }

    /// <summary>
    /// 4 rows × 4 tokens; <paramref name="result"/>[s·4 + i] is row i against token s. Block b of
    /// row i starts at w_i + b·<paramref name="blockStride"/>.
    /// </summary>
    protected abstract void Tile4x4(byte* w0, byte* w1, byte* w2, byte* w3, long blockStride, int blocks,
        sbyte* a0, sbyte* a1, sbyte* a2, sbyte* a3, int* result);

    /// <summary>4 rows × 1 token; <paramref name="result"/>[i] is row i.</summary>
    protected abstract void Tile4x1(byte* w0, byte* w1, byte* w2, byte* w3, long blockStride, int blocks, sbyte* a, int* result);
}
