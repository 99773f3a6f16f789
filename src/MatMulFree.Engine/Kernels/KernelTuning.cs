namespace MatMulFree.Engine.Kernels;

/// <summary>The tuning constants of the ternary kernels, in one place (as bitnet.cpp keeps them in one header).</summary>
internal static class KernelTuning
{
    /// <summary>Weight rows per tile: their unpacked codes are reused for every token of the tile.</summary>
    public const int RowTile = 4;

    /// <summary>Tokens (sessions) per tile: their activations are reused for every row of the tile.</summary>
    public const int TokenTile = 4;

    /// <summary>
    /// Blocks a 16-bit accumulator of the 512-bit <c>vpmaddubsw</c> kernel may take before it is
    /// widened: a lane gains at most 4 steps × 2 × (2 · 127) = 2,032 per block, and 16 × 2,032 =
    /// 32,512 stays below 32,767.
    /// </summary>
    public const int Avx512FlushBlocks = 16;

    /// <summary>Same for 256-bit <c>vpmaddubsw</c>: 8 steps a block, 4,064 per block.</summary>
    public const int Avx2FlushBlocks = 8;

    /// <summary>Same for the portable Vector128 kernel: 16 steps × 2 × 254 = 8,128 per block.</summary>
    public const int Vector128FlushBlocks = 4;

    /// <summary>
    /// Multiply-adds below which a product runs on the calling thread alone: waking a worker costs
    /// microseconds, and on a loaded machine the worker may not be scheduled at once.
    /// </summary>
    public const long MinParallelWork = 1L << 20;
}
