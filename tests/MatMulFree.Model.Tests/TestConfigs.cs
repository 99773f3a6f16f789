using MatMulFree.Core;

namespace MatMulFree.Model.Tests;

internal static class TestConfigs
{
    /// <summary>A model small enough for a training test to take a fraction of a second.</summary>
    public static ModelConfig Small(bool useLowerBound = true) => new()
    {
        VocabSize = 64, HiddenSize = 32, NumHiddenLayers = 2, IntermediateSize = 64, UseLowerBound = useLowerBound,
    };

    public static string TemporaryDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "mmf-model-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
