using MatMulFree.Core;
using MatMulFree.Core.SafeTensors;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

public sealed class TorchScorerTests
{
    /// <summary>A Hugging Face folder of the golden set: config.json and model.safetensors (byte tokenizer).</summary>
    private static string GoldenFolder(string set)
    {
        string dir = TestConfigs.TemporaryDirectory();
        File.Copy(Path.Combine(GoldenSet.Directory, $"{set}.config.json"), Path.Combine(dir, "config.json"));
        File.Copy(Path.Combine(GoldenSet.Directory, $"{set}.model.safetensors"), Path.Combine(dir, "model.safetensors"));
        return dir;
    }

    private static long[,] GoldenIds(string set)
    {
        using var golden = SafeTensorsFile.Open(Path.Combine(GoldenSet.Directory, $"{set}.golden.safetensors"));
        long[] shape = golden.Entry("input_ids").Shape;
        long[] flat = golden.ReadInt64("input_ids");
        var ids = new long[shape[0], shape[1]];
        Buffer.BlockCopy(flat, 0, ids, 0, flat.Length * sizeof(long));
        return ids;
    }

    [Theory]
    [InlineData("tiny", 0)]
    [InlineData("long", 0)]
    [InlineData("long", 70)]   // one row per pass, windows of 70 tokens carrying the state
    [InlineData("small", 50)]  // one row per pass, the row in one window
    public void TorchScorer_Score_MatchesGoldenLoss(string set, int tokensPerPass)
    {
        string dir = GoldenFolder(set);
        using (var folder = ModelFolder.Open(dir))
        {
            long[,] ids = GoldenIds(set);
            ScoreResult result = tokensPerPass == 0
                ? TorchScorer.Score(folder, ids)
                : TorchScorer.Score(folder, ids, tokensPerPass);

            using var golden = GoldenSet.Open(set);
            double expected = golden.Reference("loss").item<float>();
            Assert.Equal((long)ids.GetLength(0) * (ids.GetLength(1) - 1), result.Tokens);
            Assert.True(Math.Abs(result.Loss - expected) <= Tolerances.Loss, $"{set}: score {result.Loss} vs golden loss {expected}");
            Assert.Equal(Math.Exp(result.Loss), result.Perplexity, 9);
        }
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void TorchScorer_Score_IdOutsideVocabularyIsBadInput()
    {
        string dir = GoldenFolder("tiny");
        using (var folder = ModelFolder.Open(dir))
        {
            var error = Assert.Throws<MatMulFreeException>(() => TorchScorer.Score(folder, new long[,] { { 1, 2, 256 } }));
            Assert.Contains("256", error.Message);
        }
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void TorchDecodeBenchmark_Fp32ParameterBytes_IsFourBytesPerGoldenParameter()
    {
        using var golden = GoldenSet.Open("tiny");
        Assert.Equal(165_632L * 4, TorchDecodeBenchmark.Fp32ParameterBytes(golden.Config)); // count from the golden README
        using var small = GoldenSet.Open("small");
        Assert.Equal(922_752L * 4, TorchDecodeBenchmark.Fp32ParameterBytes(small.Config));
    }

    [Fact]
    public void TorchDecodeBenchmark_TokensPerSecond_RunsASmallModelAndRestoresTheThreadCount()
    {
        int threadsBefore = get_num_threads();
        double rate = TorchDecodeBenchmark.TokensPerSecond(TestConfigs.Small(), batch: 3, steps: 4, seed: 1);
        Assert.True(double.IsFinite(rate) && rate > 0, $"rate {rate}");
        Assert.Equal(threadsBefore, get_num_threads());
    }
}
