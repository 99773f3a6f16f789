using MatMulFree.Engine.Kernels;

namespace MatMulFree.Engine;

/// <summary>
/// One BitLinear weight in serving form: [Rows, Columns] trits packed as <see cref="TernaryCodes"/>
/// plus the tensor's dequantization scale 1/s_w = max(mean|W|, 1e-5). The bytes belong to the
/// model (a pinned array or a memory-mapped file) and are never written after construction.
/// </summary>
public sealed unsafe class PackedTernaryMatrix(int rows, int columns, float scale, byte* data)
{
    public int Rows { get; } = rows;
    public int Columns { get; } = columns;
    public int RowBytes { get; } = TernaryCodes.RowBytes(columns);
    public int PaddedColumns => RowBytes * 4;
    public float Scale { get; } = scale;
    public byte* Data { get; } = data;
    public long ByteLength => (long)Rows * RowBytes;

    /// <summary>T ∈ {−1, 0, +1} of one weight, for tests and tools (not for hot paths).</summary>
    public int Trit(int row, int column) =>
        TernaryCodes.Code(new ReadOnlySpan<byte>(Data + (long)row * RowBytes, RowBytes), column) - 1;
}
