using System.Runtime.InteropServices;

namespace MatMulFree.Core.SafeTensors;

/// <summary>A named tensor's raw little-endian bytes, ready for <see cref="SafeTensorsWriter"/>.</summary>
public sealed class TensorToWrite(string name, TensorDType dtype, long[] shape, ReadOnlyMemory<byte> data)
{
    public string Name { get; } = name;
    public TensorDType DType { get; } = dtype;
    public long[] Shape { get; } = shape;
    public ReadOnlyMemory<byte> Data { get; } = data;

    public static TensorToWrite Float32(string name, long[] shape, ReadOnlySpan<float> values) =>
        new(name, TensorDType.F32, shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>Stored as BF16, rounded to nearest even like PyTorch.</summary>
    public static TensorToWrite BFloat16(string name, long[] shape, ReadOnlySpan<float> values)
    {
        var bits = new ushort[values.Length];
        for (int i = 0; i < values.Length; i++)
            bits[i] = HalfPrecision.SingleToBFloat16(values[i]);
        return new(name, TensorDType.BF16, shape, MemoryMarshal.AsBytes(bits.AsSpan()).ToArray());
    }

    public static TensorToWrite Int64(string name, long[] shape, ReadOnlySpan<long> values) =>
        new(name, TensorDType.I64, shape, MemoryMarshal.AsBytes(values).ToArray());
}
