namespace MatMulFree.Engine.Kernels;

/// <summary>The tuning constants of the ternary kernels, in one place (as bitnet.cpp keeps them in one header).</summary>
internal static class KernelTuning
{
    /// <summary>Weight rows per tile: their unpacked codes are reused for every token of the tile.</summary>
    public const int RowTile = 4;

    /// <summary>Tokens (sessions) per tile: their activations are reused for every row of the tile.</summary>
    public const int TokenTile = 4;

    /// <summary>
    /// Packed weight bytes per row panel of the tiled kernels: with one 4-token tile of
    /// activations (4 KiB at 1,024 columns) it stays inside Zen 4's 32 KiB L1.
    /// </summary>
    public const int PanelBytes = 16 * 1024;

    /// <summary>
    /// Blocks a 16-bit accumulator of the 512-bit <c>vpmaddubsw</c> kernel may take before it is
    /// widened: per block a lane gains 4 steps × (2·a + 2·b) with codes ≤ 2 and activations in
    /// [−128, 127], i.e. at most 2,032 and at least −2,048; 16 blocks span [−32,768, 32,512],
    /// exactly inside int16 (the all-−128 test hits −32,768). The 370M shapes (4 and 11 blocks)
    /// never flush.
    /// </summary>
    public const int Avx512FlushBlocks = 16;

    /// <summary>Same for 256-bit <c>vpmaddubsw</c>: 8 steps a block, [−4,096, 4,064] per block.</summary>
    public const int Avx2FlushBlocks = 8;

    /// <summary>Same for the portable Vector128 kernel: 16 steps a block, [−8,192, 8,128] per block.</summary>
    public const int Vector128FlushBlocks = 4;

    /// <summary>
    /// Multiply-adds below which a product runs on the calling thread alone: waking a worker costs
    /// microseconds, and on a loaded machine the worker may not be scheduled at once.
    /// </summary>
    public const long MinParallelWork = 1L << 20;

    /// <summary>
    /// Token × channel elements of an element-wise stage from which it is shared with the worker
    /// (woken if asleep): 8 tokens of 1,024 channels. Below, the caller runs it alone: one token's
    /// fused passes take well under a microsecond, less than a hand-off.
    /// </summary>
    public const long MinParallelElements = 8 * 1024;
}
