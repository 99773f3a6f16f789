using MatMulFree.Engine.Kernels;

namespace MatMulFree.Engine.Tests;

public sealed unsafe class TernaryKernelTests
{
    public static TheoryData<string> SimdKernels()
    {
        var data = new TheoryData<string>();
        foreach (var k in TernaryKernelFactory.Supported())
            if (k is not ScalarTernaryKernel)
                data.Add(k.Name);
        // Without any hardware intrinsics (CI's DOTNET_EnableHWIntrinsic=0 run) the portable kernel
        // still runs, its Vector128 operations in software: its logic is checked all the same.
        if (data.Count == 0)
            data.Add(new Vector128TernaryKernel().Name);
        return data;
    }

    private static TernaryKernel Kernel(string name) =>
        TernaryKernelFactory.Supported().FirstOrDefault(k => k.Name == name) ?? new Vector128TernaryKernel();

    [Theory]
    [MemberData(nameof(SimdKernels))]
    public void TernaryKernel_Products_MatchesScalarForEveryLength0To256(string name)
    {
        var kernel = Kernel(name);
        var rng = new Random(1);
        for (int columns = 0; columns <= 256; columns++)
            AssertMatchesScalar(kernel, rng, rows: 1 + columns % 7, columns, tokens: 1 + columns % 6);
    }

    [Theory]
    [MemberData(nameof(SimdKernels))]
    public void TernaryKernel_Products_MatchesScalarForOddShapesAndLongRows(string name)
    {
        var kernel = Kernel(name);
        var rng = new Random(2);
        // 4,353 and 5,000 columns cross the int16 flush of the maddubs kernels (16, 8 and 4 blocks);
        // extreme activations (127 and −128 against all-+1 weights) check that no lane wraps:
        // 4,096 columns of −128 bring a 16-block int16 sum to exactly −32,768.
        foreach (var (rows, columns, tokens) in new[] { (13, 300, 9), (5, 1000, 4), (9, 4353, 5), (4, 5000, 1), (3, 2816, 7), (6, 1024, 11) })
            AssertMatchesScalar(kernel, rng, rows, columns, tokens);
        AssertMatchesScalar(kernel, rng, 8, 4608, 5, extreme: true);
        AssertMatchesScalar(kernel, rng, 5, 4096, 6, extreme: true);
    }

    [Fact]
    public void TernaryKernelFactory_Create_UnknownNameNamesTheVariable()
    {
        var e = Assert.Throws<EngineException>(() => TernaryKernelFactory.Create("avx9000"));
        Assert.Contains("MMF_KERNEL=avx9000", e.Message);
    }

    [Fact]
    public void TernaryCodes_PackRow_RoundTripsEveryTrit()
    {
        var rng = new Random(3);
        var trits = new sbyte[777];
        for (int i = 0; i < trits.Length; i++)
            trits[i] = (sbyte)rng.Next(-1, 2);
        var row = new byte[TernaryCodes.RowBytes(trits.Length)];
        TernaryCodes.PackRow(trits, row);
        for (int i = 0; i < trits.Length; i++)
            Assert.Equal(trits[i] + 1, TernaryCodes.Code(row, i));
        for (int i = trits.Length; i < TernaryCodes.PaddedLength(trits.Length); i++)
            Assert.Equal(1, TernaryCodes.Code(row, i));
    }

    [Fact]
    public void TernaryCodes_StoreRow_TilesRowsByFourWithAShortLastTile()
    {
        // 6 rows of 512 columns: tile 0 holds rows 0–3 (block stride 256 bytes), tile 1 rows 4–5 (128).
        int rows = 6, columns = 512, rowBytes = TernaryCodes.RowBytes(columns);
        var matrix = new byte[rows * rowBytes];
        var rng = new Random(4);
        var expected = new sbyte[rows, columns];
        var trits = new sbyte[columns];
        var packedRow = new byte[rowBytes];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
                trits[c] = expected[r, c] = (sbyte)rng.Next(-1, 2);
            TernaryCodes.PackRow(trits, packedRow);
            TernaryCodes.StoreRow(packedRow, matrix, rows, r);
        }
        Assert.Equal(1 * 4 * 64 + 2 * 64, TernaryCodes.BlockOffset(rows, rowBytes, 2, 1));
        Assert.Equal(4L * rowBytes + 1 * 2 * 64 + 64, TernaryCodes.BlockOffset(rows, rowBytes, 5, 1));
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                Assert.Equal(expected[r, c] + 1, TernaryCodes.Code(matrix, rows, rowBytes, r, c));
    }

    private static void AssertMatchesScalar(TernaryKernel kernel, Random rng, int rows, int columns, int tokens, bool extreme = false)
    {
        int rowBytes = TernaryCodes.RowBytes(columns), padded = rowBytes * 4;
        var packed = new byte[rows * rowBytes];
        var trits = new sbyte[columns];
        var packedRow = new byte[rowBytes];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
                trits[c] = extreme ? (sbyte)1 : (sbyte)rng.Next(-1, 2);
            TernaryCodes.PackRow(trits, packedRow);
            TernaryCodes.StoreRow(packedRow, packed, rows, r);
        }
        var acts = new sbyte[Math.Max(1, tokens * padded)];
        for (int t = 0; t < tokens; t++)
            for (int c = 0; c < columns; c++)
                acts[t * padded + c] = extreme ? (sbyte)(t % 2 == 0 ? 127 : -128) : (sbyte)rng.Next(-127, 128);
        var expected = new int[tokens * rows];
        var actual = new int[tokens * rows];
        fixed (byte* w = packed)
        fixed (sbyte* a = acts)
        fixed (int* e = expected, o = actual)
        {
            new ScalarTernaryKernel().Products(w, rows, rowBytes, 0, rows, a, padded, tokens, e, rows);
            kernel.Products(w, rows, rowBytes, 0, rows, a, padded, tokens, o, rows);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{kernel.Name}: {rows}x{columns} x {tokens} tokens differs from scalar");
            // A range that starts and ends inside storage tiles (as a thread's share may).
            if (rows > 2)
            {
                Array.Clear(actual);
                kernel.Products(w, rows, rowBytes, 1, rows - 1, a, padded, tokens, o, rows);
                for (int t = 0; t < tokens; t++)
                    for (int r = 1; r < rows - 1; r++)
                        Assert.True(expected[t * rows + r] == actual[t * rows + r], $"{kernel.Name}: rows [1, {rows - 1}) of {rows}x{columns}, token {t}, row {r} differs");
            }
        }
    }
}
