using MatMulFree.Core;

namespace MatMulFree.Training.Tests;

/// <summary>Small shapes and data every training test shares: seconds per test on two cores.</summary>
internal static class TestRuns
{
    public static ModelConfig TinyModel => new()
    {
        VocabSize = 260, HiddenSize = 32, NumHiddenLayers = 2, IntermediateSize = 64, BosTokenId = 256, EosTokenId = 257,
    };

    /// <summary>A deterministic byte stream with some structure to learn (repeated English-like text).</summary>
    public static TokenDataset Data(int tokens = 20_000)
    {
        var text = "the quick brown fox jumps over the lazy dog. a stitch in time saves nine. ";
        var ids = new int[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = text[i % text.Length];
        return TokenDataset.FromTokens(ids, 256);
    }

    public static TrainingOptions Options(int microBatch, int microBatchesPerStep, long steps = 5, int sequence = 16) => new()
    {
        Model = TinyModel, MicroBatch = microBatch, MicroBatchesPerStep = microBatchesPerStep, SequenceLength = sequence,
        TotalSteps = steps, PeakRate = 4e-3, WarmupSteps = 1, Seed = 7,
    };

    public static string TempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "mmf-training-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
