using MatMulFree.Core;
using MatMulFree.Core.SafeTensors;
using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

/// <summary>
/// One set of golden tensors produced by the authors' code (tests/data/golden/NAME.*): the
/// config, the weights, and input_ids, logits, loss, hidden_states.{k}, grad.{parameter}.
/// </summary>
internal sealed class GoldenSet : IDisposable
{
    public static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "golden");

    private readonly SafeTensorsFile _weights;
    private readonly SafeTensorsFile _golden;

    private GoldenSet(string name)
    {
        Name = name;
        Config = ModelConfig.Load(Path.Combine(Directory, $"{name}.config.json"));
        _weights = SafeTensorsFile.Open(Path.Combine(Directory, $"{name}.model.safetensors"));
        _golden = SafeTensorsFile.Open(Path.Combine(Directory, $"{name}.golden.safetensors"));
    }

    public static GoldenSet Open(string name) => new(name);

    public string Name { get; }
    public ModelConfig Config { get; }
    public ITensorSource Weights => _weights;

    public MatMulFreeLM LoadModel(BitLinearMode mode = BitLinearMode.Recompute) => ModelCheckpoint.Load(Config, _weights, mode);

    public Tensor InputIds()
    {
        long[] shape = _golden.Entry("input_ids").Shape;
        return tensor(_golden.ReadInt64("input_ids"), shape); // (B, T)
    }

    public Tensor Reference(string name) => tensor(_golden.ReadFloat32(name), _golden.Entry(name).Shape);

    public bool Has(string name) => _golden.Contains(name);

    public void Dispose()
    {
        _weights.Dispose();
        _golden.Dispose();
    }
}

/// <summary>The tolerances of tests/data/golden/README.md, with messages that say which limit broke.</summary>
internal static class Tolerances
{
    public const double Loss = 2e-3;
    public const double LogitMeanAbs = 2e-3;
    public const double LogitMaxAbs = 0.1;
    public const double HiddenRelative = 1e-2;
    public const double GradientRelative = 5e-2;

    public static void LogitsClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var diff = (expected - actual).abs();
        double mean = diff.mean().item<float>(), max = diff.max().item<float>();
        Assert.True(mean <= LogitMeanAbs, $"{what}: mean |Δlogit| {mean:G4} > {LogitMeanAbs}");
        Assert.True(max <= LogitMaxAbs, $"{what}: max |Δlogit| {max:G4} > {LogitMaxAbs}");
    }

    public static double RelativeError(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var diff = expected.to_type(ScalarType.Float64) - actual.to_type(ScalarType.Float64);
        using var diffNorm = diff.norm();
        using var refNorm = expected.to_type(ScalarType.Float64).norm();
        return diffNorm.item<double>() / refNorm.item<double>();
    }
}
