namespace MatMulFree.Engine.Kernels;

/// <summary>The reference every SIMD kernel is tested against: plain loops over the bit layout.</summary>
public sealed unsafe class ScalarTernaryKernel : TernaryKernel
{
    public override string Name => "scalar";

    public override void Products(byte* packed, int rows, int rowBytes, int rowStart, int rowEnd,
        sbyte* acts, int actStride, int tokens, int* dst, int dstStride)
    {
        for (int t = 0; t < tokens; t++)
            for (int r = rowStart; r < rowEnd; r++)
                dst[(long)t * dstStride + r] = Row(packed, rows, rowBytes, r, acts + (long)t * actStride);
    }

    private static int Row(byte* packed, int rows, int rowBytes, int row, sbyte* a)
    {
        int sum = 0;
        for (int block = 0; block < rowBytes / TernaryCodes.BytesPerBlock; block++)
        {
            byte* codes = packed + TernaryCodes.BlockOffset(rows, rowBytes, row, block);
            for (int j = 0; j < TernaryCodes.BytesPerBlock; j++)
            {
                int column = block * TernaryCodes.WeightsPerBlock + j;
                for (int group = 0; group < 4; group++)
                    sum += ((codes[j] >> (6 - 2 * group)) & 3) * a[column + group * TernaryCodes.GroupWidth];
            }
        }
        return sum;
    }
}
