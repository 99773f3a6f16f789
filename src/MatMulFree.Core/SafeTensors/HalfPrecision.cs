namespace MatMulFree.Core.SafeTensors;

/// <summary>Conversions between float and the 16-bit formats of checkpoints (BF16, F16).</summary>
public static class HalfPrecision
{
    public static void BFloat16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        for (int i = 0; i < source.Length; i++)
            destination[i] = BitConverter.UInt32BitsToSingle((uint)source[i] << 16);
    }

    public static void HalfToSingle(ReadOnlySpan<Half> source, Span<float> destination)
    {
        for (int i = 0; i < source.Length; i++)
            destination[i] = (float)source[i];
    }

    /// <summary>Round to nearest, ties to even — what PyTorch's <c>.to(torch.bfloat16)</c> does.</summary>
    public static ushort SingleToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
            return (ushort)((bits >> 16) | 0x40); // keep it a quiet NaN after truncation
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static float RoundToBFloat16(float value) => BitConverter.UInt32BitsToSingle((uint)SingleToBFloat16(value) << 16);
}
