using MatMulFree.Core;
using MatMulFree.Core.SafeTensors;
using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

public sealed class ModelCheckpointTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MatMulFreeLM_NamedParameters_AreExactlyTheHuggingFaceNamesAndShapes(bool useLowerBound)
    {
        var config = TestConfigs.Small(useLowerBound);
        using var model = new MatMulFreeLM(config);
        var actual = model.named_parameters().Select(p => (p.name, string.Join(",", p.parameter.shape))).Order().ToList();
        var expected = ParameterNames.All(config).Select(p => (p.Name, string.Join(",", p.Shape))).Order().ToList();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void ModelCheckpoint_SaveLoadF32_RoundTripsEveryTensorExactly()
    {
        string dir = TestConfigs.TemporaryDirectory();
        using var scope = NewDisposeScope();
        using var original = ModelInitialization.CreateRandom(TestConfigs.Small(), seed: 4);
        ModelCheckpoint.Save(original, dir, TensorDType.F32);

        Assert.Equal(original.Config, ModelConfig.Load(Path.Combine(dir, ModelCheckpoint.ConfigFileName)));
        using var checkpoint = SafeTensorsCheckpoint.Open(dir);
        Assert.All(checkpoint.Names, n => Assert.Equal(TensorDType.F32, checkpoint.Entry(n).DType));
        using var loaded = ModelCheckpoint.Load(original.Config, checkpoint);
        var loadedParameters = ModelCheckpoint.ParametersByName(loaded);
        foreach (var (name, parameter) in original.named_parameters())
            Assert.True(parameter.eq(loadedParameters[name]).all().item<bool>(), $"{name} changed in the F32 round trip");
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void ModelCheckpoint_SaveLoadBF16_RoundTripsWithinBFloat16Rounding()
    {
        string dir = TestConfigs.TemporaryDirectory();
        using var scope = NewDisposeScope();
        using var original = ModelInitialization.CreateRandom(TestConfigs.Small(), seed: 5);
        using (no_grad())
            foreach (var (_, p) in original.named_parameters()) p.add_(0.01 * randn_like(p)); // no exact 1s and 0s
        ModelCheckpoint.Save(original, dir, TensorDType.BF16);

        using var checkpoint = SafeTensorsCheckpoint.Open(dir);
        Assert.All(checkpoint.Names, n => Assert.Equal(TensorDType.BF16, checkpoint.Entry(n).DType));
        using var loaded = ModelCheckpoint.Load(original.Config, checkpoint);
        var loadedParameters = ModelCheckpoint.ParametersByName(loaded);
        foreach (var (name, parameter) in original.named_parameters())
        {
            // libtorch's own fp32 → bf16 conversion rounds to nearest even: the stored values must be exactly that.
            var rounded = parameter.detach().to_type(ScalarType.BFloat16).to_type(ScalarType.Float32);
            Assert.True(rounded.eq(loadedParameters[name]).all().item<bool>(), $"{name} is not the bf16 rounding of the original");
            Assert.False(parameter.eq(loadedParameters[name]).all().item<bool>(), $"{name} was not rounded at all: not stored as bf16?");
        }
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void ModelCheckpoint_Load_MissingTensorRaisesSafeTensorsExceptionNamingIt()
    {
        string dir = TestConfigs.TemporaryDirectory();
        using var golden = GoldenSet.Open("tiny");
        var tensors = ParameterNames.All(golden.Config)
            .Where(p => p.Name != ParameterNames.LmHeadNorm)
            .Select(p => TensorToWrite.Float32(p.Name, p.Shape, golden.Weights.ReadFloat32(p.Name)));
        string path = Path.Combine(dir, "model.safetensors");
        SafeTensorsWriter.Write(path, tensors);

        using var file = SafeTensorsFile.Open(path);
        var error = Assert.Throws<SafeTensorsException>(() => ModelCheckpoint.Load(golden.Config, file));
        Assert.Contains(ParameterNames.LmHeadNorm, error.Message);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void ModelCheckpoint_Load_WrongShapeRaisesSafeTensorsExceptionNamingIt()
    {
        using var golden = GoldenSet.Open("tiny");
        var wider = golden.Config with { HiddenSize = 96 }; // the tiny checkpoint is d = 64
        var error = Assert.Throws<SafeTensorsException>(() => ModelCheckpoint.Load(wider, golden.Weights));
        Assert.Contains(ParameterNames.Embeddings, error.Message);
    }

    [Fact]
    public void ModelConfig_Parse_UseShortConvTrueIsRejectedNamingTheKey()
    {
        string json = File.ReadAllText(Path.Combine(GoldenSet.Directory, "tiny.config.json"))
            .Replace("\"use_short_conv\": false", "\"use_short_conv\": true");
        Assert.Contains("\"use_short_conv\": true", json);
        var error = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json, "tiny.config.json"));
        Assert.Contains("use_short_conv", error.Message);
    }
}
