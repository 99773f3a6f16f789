using MatMulFree.Core;
using MatMulFree.Core.SafeTensors;

namespace MatMulFree.Engine.Tests;

/// <summary>One golden set of tests/data/golden: the authors' model outputs for small random models.</summary>
internal sealed class GoldenSet
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "golden");

    private GoldenSet(string name)
    {
        Name = name;
        Config = ModelConfig.Load(Path.Combine(Directory, $"{name}.config.json"));
        using (var weights = SafeTensorsFile.Open(Path.Combine(Directory, $"{name}.model.safetensors")))
            {
            Model = ServingConverter.FromCheckpoint(weights, Config, name, ServingTensorKind.F32);
            HalfModel = ServingConverter.FromCheckpoint(weights, Config, name, ServingTensorKind.F16);
            Int8Model = ServingConverter.FromCheckpoint(weights, Config, name, ServingTensorKind.I8Rows);
        }
        using var golden = SafeTensorsFile.Open(Path.Combine(Directory, $"{name}.golden.safetensors"));
        var ids = golden.ReadInt64("input_ids");
        var shape = golden.Entry("input_ids").Shape;
        Batch = (int)shape[0];
        Length = (int)shape[1];
        InputIds = new long[Batch, Length];
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < Length; t++)
                InputIds[b, t] = ids[b * Length + t];
        Logits = golden.ReadFloat32("logits", Batch, Length, Config.VocabSize);
        Loss = golden.ReadFloat32("loss")[0];
    }

    public string Name { get; }
    public ModelConfig Config { get; }
    /// <summary>Converted with fp32 embeddings: the exact path the golden tolerances are for.</summary>
    public EngineModel Model { get; }

    /// <summary>Converted with fp16 embeddings, as `mmf convert` writes by default.</summary>
    public EngineModel HalfModel { get; }

    /// <summary>Converted with int8 embeddings, a scale per row.</summary>
    public EngineModel Int8Model { get; }
    public int Batch { get; }
    public int Length { get; }
    public long[,] InputIds { get; }
    public float[] Logits { get; }
    public float Loss { get; }

    public int[] Row(int b) => Enumerable.Range(0, Length).Select(t => (int)InputIds[b, t]).ToArray();

    private static readonly Dictionary<string, GoldenSet> Cache = [];

    public static GoldenSet Load(string name)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(name, out var set))
                Cache[name] = set = new GoldenSet(name);
            return set;
        }
    }

    /// <summary>The golden README's logit tolerances: mean |Δ| ≤ 2e-3, max |Δ| ≤ 0.1.</summary>
    public void AssertLogitsClose(ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(Logits.Length, actual.Length);
        double sum = 0, max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double delta = Math.Abs(actual[i] - Logits[i]);
            sum += delta;
            max = Math.Max(max, delta);
        }
        double mean = sum / actual.Length;
        Assert.True(mean <= 2e-3 && max <= 0.1, $"{Name} {what}: mean |Δ| {mean:e3}, max |Δ| {max:e3}");
    }
}
