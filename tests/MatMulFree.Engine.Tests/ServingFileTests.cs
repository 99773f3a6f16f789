namespace MatMulFree.Engine.Tests;

public sealed class ServingFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mmf-serving-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteTiny()
    {
        string path = Path.Combine(_dir, ServingFile.FileName);
        ServingFile.Write(GoldenSet.Load("tiny").HalfModel, path);
        return path;
    }

    [Fact]
    public void ServingFile_Open_RoundTripsIdentityAndLogits()
    {
        var source = GoldenSet.Load("tiny").HalfModel;
        string path = WriteTiny();
        using var mapped = ServingFile.Open(path);
        Assert.Equal(source.Identity, mapped.Identity);
        using var a = new InferenceEngine(source);
        using var b = new InferenceEngine(mapped);
        var ids = GoldenSet.Load("tiny").Row(0);
        var la = new float[source.Config.VocabSize];
        var lb = new float[source.Config.VocabSize];
        a.Prefill(a.CreateState(), ids, la);
        b.Prefill(b.CreateState(), ids, lb);
        Assert.Equal(la, lb);
    }

    [Fact]
    public void ServingFile_Open_RoundTripsInt8RowEmbeddings()
    {
        // What `mmf convert` writes by default: int8 embedding rows, each with its fp32 scale.
        var set = GoldenSet.Load("tiny");
        var source = set.Int8Model;
        string path = Path.Combine(_dir, "int8-" + ServingFile.FileName);
        ServingFile.Write(source, path);
        using var mapped = ServingFile.Open(path);
        Assert.Equal(ServingTensorKind.I8Rows, mapped.EmbeddingKind);
        Assert.Equal(source.Identity, mapped.Identity);
        Assert.Equal(source.WeightBytes, mapped.WeightBytes);
        using var a = new InferenceEngine(source);
        using var b = new InferenceEngine(mapped);
        var ids = set.Row(0);
        var la = new float[source.Config.VocabSize];
        var lb = new float[source.Config.VocabSize];
        a.Prefill(a.CreateState(), ids, la);
        b.Prefill(b.CreateState(), ids, lb);
        Assert.Equal(la, lb);
    }

    [Fact]
    public void ServingFile_Open_CorruptedTensorNamesTheTensor()
    {
        string path = WriteTiny();
        using (var probe = ServingFile.Open(path))
        {
            // Flip one byte in the middle of the last layer's gate projection.
            var t = probe.Tensors.First(x => x.Name == "model.layers.1.mlp.gate_proj.weight");
            long offset;
            unsafe
            {
                byte* basePtr = probe.Tensors[0].Data - FirstOffset(path);
                offset = t.Data - basePtr + t.ByteLength / 2;
            }
            probe.Dispose();
            FlipByte(path, offset);
        }
        var e = Assert.Throws<ServingFileException>(() => ServingFile.Open(path));
        Assert.Contains("model.layers.1.mlp.gate_proj.weight", e.Message);
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void ServingFile_Open_TruncatedFileIsAClearError()
    {
        string path = WriteTiny();
        using (var stream = new FileStream(path, FileMode.Open))
            stream.SetLength(stream.Length - 1000);
        var e = Assert.Throws<ServingFileException>(() => ServingFile.Open(path));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("lm_head", e.Message);
    }

    [Fact]
    public void ServingFile_Open_OtherVersionOrMagicIsAClearError()
    {
        string path = WriteTiny();
        var bytes = File.ReadAllBytes(path);
        bytes[8] = 99;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("version 99", Assert.Throws<ServingFileException>(() => ServingFile.Open(path)).Message);
        bytes[0] = (byte)'X';
        File.WriteAllBytes(path, bytes);
        Assert.Contains("bad magic", Assert.Throws<ServingFileException>(() => ServingFile.Open(path)).Message);
    }

    private static long FirstOffset(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int headerLength = BitConverter.ToInt32(bytes, 12);
        var root = System.Text.Json.Nodes.JsonNode.Parse(bytes.AsSpan(24, headerLength))!;
        return root["tensors"]![0]!["offset"]!.GetValue<long>();
    }

    private static void FlipByte(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open);
        stream.Position = offset;
        int b = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(b ^ 0x40));
    }
}
