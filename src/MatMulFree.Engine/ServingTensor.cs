namespace MatMulFree.Engine;

/// <summary>How a tensor of the serving form is stored.</summary>
public enum ServingTensorKind
{
    /// <summary>Trits packed 4 per byte in the <see cref="Kernels.TernaryCodes"/> layout, plus a scale.</summary>
    Ternary2 = 1,
    /// <summary>IEEE half precision (the embeddings).</summary>
    F16 = 2,
    /// <summary>Single precision (norm gains, precomputed lower bounds).</summary>
    F32 = 3,
    /// <summary>
    /// Int8 rows with a scale per row (the embeddings): each row is its fp32 scale max|row|/127
    /// followed by the row's int8 values, 4 + columns bytes. Half of fp16's bytes; what takes the
    /// 370M model past the paper's 10× (docs/benchmarks.md has its effect on the golden loss).
    /// </summary>
    I8Rows = 4,
}

/// <summary>
/// One tensor of a model in serving form: its bytes live in a pinned array or a memory-mapped
/// file owned by the <see cref="EngineModel"/>. The checksum is XxHash3 of the bytes.
/// </summary>
public sealed unsafe class ServingTensor(string name, ServingTensorKind kind, long[] shape, float scale, byte* data, long byteLength, ulong checksum)
{
    public string Name { get; } = name;
    public ServingTensorKind Kind { get; } = kind;
    public long[] Shape { get; } = shape;
    /// <summary>1/s_w of a ternary tensor; 1 otherwise.</summary>
    public float Scale { get; } = scale;
    public byte* Data { get; } = data;
    public long ByteLength { get; } = byteLength;
    public ulong Checksum { get; } = checksum;

    public int Rows => (int)Shape[0];
    public int Columns => Shape.Length > 1 ? (int)Shape[1] : 1;

    public ReadOnlySpan<byte> Bytes => new(Data, checked((int)ByteLength));
}
