using MatMulFree.Engine;
using MatMulFree.Grains.Serving;
using MatMulFree.Silo;

namespace MatMulFree.Serving.Tests;

/// <summary>The golden tiny model (real weights, V 256, d 64, L 2) and the oracle every serving test compares with: the engine run alone.</summary>
public static class TestModels
{
    public static string TinyDirectory { get; } = CopyOfGolden("tiny");

    public static SiloSettings TinySettings(int maxBatch = 64, int maxQueue = 256, string? storage = null) => new()
    {
        Models = [TinyDirectory],
        Limits = new Grains.Serving.Backends.BackendLimits(maxBatch, maxQueue),
        StorageConnectionString = storage,
        EngineThreads = 1,
    };

    public static List<int[]> RunAlone(InferenceEngine engine, SamplingSettings sampling, IEnumerable<(int[] Message, int MaxTokens)> turns) =>
        Silo.Benchmarks.SessionOracle.RunAlone(engine, sampling, turns);

    public static InferenceEngine TinyEngine(out ServedModel model)
    {
        model = ServedModel.Load(TinyDirectory, Path.GetTempPath());
        return new InferenceEngine(model.Engine, threads: 1);
    }

    /// <summary>
    /// A private copy of tests/data/models/NAME: its files are symlinks into the golden folder, and
    /// SafeTensorsFile measures a symlink's own length instead of its target's (reported to Core).
    /// </summary>
    public static string CopyOfGolden(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "data", "models", name);
            if (!File.Exists(Path.Combine(candidate, "config.json")))
                continue;
            string copy = Path.Combine(Directory.CreateTempSubdirectory("mmf-serving-").FullName, name);
            Directory.CreateDirectory(copy);
            foreach (string file in Directory.GetFiles(candidate))
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            return copy;
        }
        throw new DirectoryNotFoundException($"tests/data/models/{name} not found above {AppContext.BaseDirectory}");
    }
}
