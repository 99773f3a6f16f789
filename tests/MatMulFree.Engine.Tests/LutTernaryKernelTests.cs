using MatMulFree.Core;
using MatMulFree.Engine.Kernels;

namespace MatMulFree.Engine.Tests;

public sealed unsafe class LutTernaryKernelTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LutTernaryKernel_Products_MatchesScalarKernelOnOddShapes(bool simd)
    {
        var rng = new Random(7);
        // Rows not a multiple of 32 (or of the 128-row tile), columns not a multiple of 3, tokens not of 4.
        foreach (var (rows, columns, tokens) in new[] { (1, 1, 1), (33, 10, 5), (200, 257, 6), (130, 1000, 17), (64, 2816, 4) })
            AssertMatchesScalar(rng, rows, columns, tokens, simd, extreme: false);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LutTernaryKernel_Products_Int16FlushHoldsAtTheExtremes(bool simd)
    {
        // All trits −1 against all activations −128: every group adds +384, and a chunk of 84
        // groups reaches 32,256 in an int16 lane. 4,096 columns are 1,366 groups (683 pairs):
        // 17 chunks, no wrap; 255 columns are 85 groups, the second chunk holding the padding pair.
        AssertMatchesScalar(new Random(8), 40, 4096, 5, simd, extreme: true);
        AssertMatchesScalar(new Random(9), 40, 255, 3, simd, extreme: true);
    }

    [Fact]
    public void InferenceEngine_DecodeBatch_LookupTablesGiveTheSameLogits()
    {
        // Integer sums are exact either way: the logits must be identical, not merely close.
        var shape = new ModelConfig { VocabSize = 300, HiddenSize = 200, NumHiddenLayers = 2, IntermediateSize = 530 };
        using var model = ServingConverter.Random(shape, seed: 6);
        using var plain = new InferenceEngine(model, maxRows: 32);
        using var lut = new InferenceEngine(model, maxRows: 32, lookupTables: true);
        Assert.Equal(LutTernaryKernel.IsSupported, lut.LookupTables);
        int n = 20, v = shape.VocabSize;
        var a = Enumerable.Range(0, n).Select(_ => plain.CreateState()).ToArray();
        var b = Enumerable.Range(0, n).Select(_ => lut.CreateState()).ToArray();
        var tokens = Enumerable.Range(0, n).Select(i => i * 13 % v).ToArray();
        var (la, lb) = (new float[n * v], new float[n * v]);
        for (int step = 0; step < 3; step++)
        {
            plain.DecodeBatch(a, tokens, la);
            lut.DecodeBatch(b, tokens, lb);
            Assert.Equal(la, lb);
            tokens = tokens.Select(t => (t + 7) % v).ToArray();
        }
        Assert.Equal(model.Layers[0].Down.Weight.LutIndexBytes, LutTernaryKernel.IsSupported ? LutTernaryKernel.IndexBytes(200, 530) : 0);
    }

    private static void AssertMatchesScalar(Random rng, int rows, int columns, int tokens, bool simd, bool extreme)
    {
        int rowBytes = TernaryCodes.RowBytes(columns), padded = rowBytes * 4;
        var packed = new byte[rows * rowBytes];
        var trits = new sbyte[columns];
        var packedRow = new byte[rowBytes];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
                trits[c] = extreme ? (sbyte)-1 : (sbyte)rng.Next(-1, 2);
            TernaryCodes.PackRow(trits, packedRow);
            TernaryCodes.StoreRow(packedRow, packed, rows, r);
        }
        var acts = new sbyte[tokens * padded];
        var qSums = new int[tokens];
        for (int t = 0; t < tokens; t++)
            for (int c = 0; c < columns; c++)
                qSums[t] += acts[t * padded + c] = extreme ? (sbyte)-128 : (sbyte)rng.Next(-128, 128);
        var expected = new int[tokens * rows];
        var actual = new int[tokens * rows];
        long tableStride = LutTernaryKernel.TableBytes(columns) / sizeof(short);
        var tables = new short[tokens * tableStride];
        fixed (byte* w = packed)
        fixed (sbyte* a = acts)
        fixed (int* e = expected, o = actual)
        fixed (short* tb = tables)
        {
            new ScalarTernaryKernel().Products(w, rows, rowBytes, 0, rows, a, padded, tokens, e, rows);
            var matrix = new PackedTernaryMatrix(rows, columns, 1, w);
            for (int t = 0; t < tokens; t++)
                LutTernaryKernel.BuildTables(a + t * padded, columns, tb + t * tableStride, simd);
            LutTernaryKernel.Products(matrix.LutIndex, rows, columns, 0, rows, tb, tableStride, tokens, o, rows, simd);
        }
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
                Assert.True(expected[t * rows + r] - qSums[t] == actual[t * rows + r],
                    $"{rows}x{columns} x {tokens} (simd {simd}): token {t}, row {r}: {actual[t * rows + r]} vs {expected[t * rows + r] - qSums[t]}");
    }
}
