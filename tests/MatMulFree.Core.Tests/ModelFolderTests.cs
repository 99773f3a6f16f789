using MatMulFree.Core.SafeTensors;

namespace MatMulFree.Core.Tests;

public sealed class ModelFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mmf-folder-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Open_GoldenFolder_ValidatesAndUsesByteTokenizer()
    {
        CopyGolden("tiny");
        string? notice = null;
        using ModelFolder folder = ModelFolder.Open(_dir, n => notice = n);
        Assert.Equal(64, folder.Config.HiddenSize);
        Assert.Equal("byte-level", folder.Tokenizer.Name);
        Assert.NotNull(notice);
    }

    [Fact]
    public void Open_MissingTensor_NamesTensorAndShape()
    {
        CopyGolden("tiny");
        using (SafeTensorsFile full = SafeTensorsFile.Open(RepoPaths.Golden("tiny.model.safetensors")))
        {
            var kept = full.Tensors.Values.Where(t => t.Name != ParameterNames.LmHeadNorm)
                .Select(t => new TensorToWrite(t.Name, t.DType, t.Shape, full.RawBytes(t.Name).ToArray())).ToList();
            SafeTensorsWriter.Write(Path.Combine(_dir, "model.safetensors"), kept);
        }
        var e = Assert.Throws<SafeTensorsException>(() => ModelFolder.Open(_dir));
        Assert.Contains("'lm_head.norm.weight'", e.Message);
        Assert.Contains("[64]", e.Message);
    }

    [Fact]
    public void Open_ConfigDisagreesWithWeights_NamesTensor()
    {
        CopyGolden("tiny");
        File.WriteAllText(Path.Combine(_dir, "config.json"), ModelConfig.Preset("tiny").ToJson());
        var e = Assert.Throws<SafeTensorsException>(() => ModelFolder.Open(_dir));
        Assert.Contains("model.embeddings.weight", e.Message);
        Assert.Contains("[256, 64]", e.Message);
    }

    [Fact]
    public void TokenInputReader_GoldenInput_ReadsBatchAndChecksRange()
    {
        long[,] ids = TokenInputReader.Read(RepoPaths.Golden("tiny.golden.safetensors"), new Tokenization.ByteTokenizer(256, 1, 2), 256);
        Assert.Equal(2, ids.GetLength(0));
        Assert.Equal(32, ids.GetLength(1));
        var e = Assert.Throws<MatMulFreeException>(() =>
            TokenInputReader.Read(RepoPaths.Golden("small.golden.safetensors"), new Tokenization.ByteTokenizer(256, 1, 2), 256));
        Assert.Contains("outside the vocabulary", e.Message);
    }

    [Fact]
    public void TokenInputReader_NoRows_IsRefused()
    {
        string path = Path.Combine(_dir, "empty.safetensors");
        SafeTensorsWriter.Write(path, [TensorToWrite.Int64(TokenInputReader.InputIdsTensor, [0, 4], [])]);
        var e = Assert.Throws<MatMulFreeException>(() => TokenInputReader.Read(path, new Tokenization.ByteTokenizer(256, 1, 2), 256));
        Assert.Contains(path, e.Message);
        Assert.Contains("no rows", e.Message);
    }

    [Fact]
    public void TokenInputReader_Text_IsTokenizedWithBos()
    {
        string path = Path.Combine(_dir, "in.txt");
        File.WriteAllText(path, "hey");
        long[,] ids = TokenInputReader.Read(path, new Tokenization.ByteTokenizer(260, 256, 257), 260);
        Assert.Equal(new long[] { 256, 'h', 'e', 'y' }, ids.Cast<long>());
        File.WriteAllBytes(path, [0xFF, 0xFE, 0x00]);
        Assert.Contains("not UTF-8", Assert.Throws<MatMulFreeException>(() => TokenInputReader.Read(path, new Tokenization.ByteTokenizer(256, 1, 2), 256)).Message);
    }

    [Fact]
    public void Open_SymlinkedFiles_ReadsTheTargets()
    {
        File.CreateSymbolicLink(Path.Combine(_dir, "config.json"), RepoPaths.Golden("tiny.config.json"));
        File.CreateSymbolicLink(Path.Combine(_dir, "model.safetensors"), RepoPaths.Golden("tiny.model.safetensors"));
        using ModelFolder folder = ModelFolder.Open(_dir);
        Assert.Equal(64 * 64, folder.Weights.ReadFloat32(ParameterNames.Layer(0, "attn.i_proj.weight"), 64, 64).Length);
    }

    private void CopyGolden(string set)
    {
        File.Copy(RepoPaths.Golden($"{set}.config.json"), Path.Combine(_dir, "config.json"));
        File.Copy(RepoPaths.Golden($"{set}.model.safetensors"), Path.Combine(_dir, "model.safetensors"));
    }
}
