using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MatMulFree.Engine.Kernels;

namespace MatMulFree.Engine;

/// <summary>
/// One BitLinear weight in serving form: [Rows, Columns] trits packed and tiled as <see cref="TernaryCodes"/>
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

    private readonly object _lutGate = new();
    private byte[]? _lutIndex;

    /// <summary>Bytes of the lookup-table index once built (0 before the first batched product needs it).</summary>
    public long LutIndexBytes => _lutIndex?.Length ?? 0;

    /// <summary>The group indices of <see cref="LutTernaryKernel"/>, built on first use (pinned; lives as long as the matrix).</summary>
    public byte* LutIndex
    {
        get
        {
            var index = Volatile.Read(ref _lutIndex);
            if (index is null)
                lock (_lutGate)
                {
                    index = _lutIndex;
                    if (index is null)
                    {
                        index = GC.AllocateUninitializedArray<byte>(checked((int)LutTernaryKernel.IndexBytes(Rows, Columns)), pinned: true);
                        LutTernaryKernel.BuildIndex(this, index);
                        Volatile.Write(ref _lutIndex, index);
                    }
                }
            return (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(index));
        }
    }

    /// <summary>T ∈ {−1, 0, +1} of one weight, for tests and tools (not for hot paths).</summary>
    public int Trit(int row, int column) =>
        TernaryCodes.Code(new ReadOnlySpan<byte>(Data, checked((int)ByteLength)), Rows, RowBytes, row, column) - 1;
}
