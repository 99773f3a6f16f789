namespace MatMulFree.Core.SafeTensors;

/// <summary>One tensor's header entry; <paramref name="DataOffset"/> is from the start of the file.</summary>
public sealed record TensorEntry(string Name, TensorDType DType, long[] Shape, long DataOffset, long ByteLength)
{
    public long ElementCount => Shape.Aggregate(1L, (n, s) => n * s);

    public string ShapeText => ShapeToText(Shape);

    public static string ShapeToText(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
