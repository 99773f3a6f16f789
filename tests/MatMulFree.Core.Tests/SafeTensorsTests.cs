using System.Text;
using MatMulFree.Core.SafeTensors;

namespace MatMulFree.Core.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mmf-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Open_GoldenModel_ListsEveryParameterWithItsShape()
    {
        ModelConfig config = ModelConfig.Load(RepoPaths.Golden("small.config.json"));
        using SafeTensorsFile file = SafeTensorsFile.Open(RepoPaths.Golden("small.model.safetensors"));
        foreach (var (name, shape) in ParameterNames.All(config))
            Assert.Equal(shape, file.Entry(name).Shape);
    }

    [Fact]
    public void ReadFloat32_Bf16Golden_EqualsBf16OfNothingButWidening()
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(RepoPaths.Golden("bf16.model.safetensors"));
        Assert.Equal(TensorDType.BF16, file.Entry(ParameterNames.LmHead).DType);
        float[] values = file.ReadFloat32(ParameterNames.LmHead, 256, 128);
        Assert.All(values, v => Assert.Equal(v, HalfPrecision.RoundToBFloat16(v)));
        Assert.Contains(values, v => v != 0);
    }

    [Fact]
    public void Write_F32AndBf16AndF16_RoundTrip()
    {
        float[] values = Enumerable.Range(0, 37).Select(i => MathF.Sin(i) * 3.7f).ToArray();
        string path = Path.Combine(_dir, "t.safetensors");
        SafeTensorsWriter.Write(path, [
            TensorToWrite.Float32("a", [37], values),
            TensorToWrite.BFloat16("b.c", [1, 37], values),
            new TensorToWrite("h", TensorDType.F16, [37], values.Select(v => (Half)v).SelectMany(h => BitConverter.GetBytes(h)).ToArray()),
            TensorToWrite.Int64("ids", [2, 2], [1, 2, 3, 31999]),
        ], new Dictionary<string, string> { ["format"] = "pt" });

        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Equal(values, file.ReadFloat32("a", 37));
        Assert.Equal(values.Select(HalfPrecision.RoundToBFloat16), file.ReadFloat32("b.c", 1, 37));
        Assert.Equal(values.Select(v => (float)(Half)v), file.ReadFloat32("h"));
        Assert.Equal([1L, 2, 3, 31999], file.ReadInt64("ids"));
        Assert.Equal("pt", file.Metadata["format"]);
    }

    [Fact]
    public void SingleToBFloat16_TiesGoToEven()
    {
        // 1 + 2^-8 lies exactly between two bf16 values: 1 (even mantissa) wins; 1 + 3·2^-8 rounds up.
        Assert.Equal(1f, HalfPrecision.RoundToBFloat16(1f + 1f / 256));
        Assert.Equal(1f + 4f / 256, HalfPrecision.RoundToBFloat16(1f + 3f / 256));
    }

    [Fact]
    public void CheckpointWriter_SmallShards_WritesIndexThatReadsBack()
    {
        var tensors = Enumerable.Range(0, 5)
            .Select(i => TensorToWrite.Float32($"w{i}", [100], Enumerable.Repeat((float)i, 100).ToArray()))
            .ToList();
        SafeTensorsCheckpointWriter.Write(_dir, tensors, maxShardBytes: 900);

        Assert.True(File.Exists(Path.Combine(_dir, SafeTensorsCheckpoint.IndexFileName)));
        Assert.False(File.Exists(Path.Combine(_dir, SafeTensorsCheckpoint.SingleFileName)));
        using SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(_dir);
        Assert.Equal(3, checkpoint.Files.Count);
        for (int i = 0; i < 5; i++)
            Assert.All(checkpoint.ReadFloat32($"w{i}", 100), v => Assert.Equal(i, v));
    }

    [Fact]
    public void Open_Truncated_NamesFileAndTensor()
    {
        string path = WriteValid();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]); // cut inside the data, after a whole header
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'w'", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Open_HeaderLargerThanFile_IsClearError()
    {
        string path = Path.Combine(_dir, "big-header.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(4096L), .. "{}"u8.ToArray()]);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("header says 4096 bytes", e.Message);
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""", "unknown dtype \"Q4\"")]
    [InlineData("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", "needs 12 bytes")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", "not a list of sizes")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2]}}""", "data_offsets")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]""", "not valid JSON")]
    public void Open_MalformedHeader_NamesTheProblem(string header, string expected)
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        byte[] json = Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)json.Length), .. json, .. new byte[8]]);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    // The format: the tensors tile the data section exactly, in some order: no overlap (two names
    // reading one another's bytes give wrong numbers silently), no hole, nothing after the last.
    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}""", 20, "unused")]
    [InlineData("""{"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "unused")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 12, "unused")]
    public void Open_DataOffsetsThatDoNotTileTheData_AreRefused(string header, int dataBytes, string expected)
    {
        string path = WriteRaw(Encoding.UTF8.GetBytes(header), dataBytes);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Matches("tensor '[ab]'", e.Message);
    }

    [Fact]
    public void Open_EmptyTensorsAndTensorsInAnyOrder_TileTheData()
    {
        string path = WriteRaw(Encoding.UTF8.GetBytes(
            """{"z":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"e":{"dtype":"F16","shape":[3,0],"data_offsets":[16,16]}}"""), 16);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Equal(["a", "b", "e", "z"], file.Names.Order());
        Assert.Empty(file.ReadFloat32("z"));
    }

    [Fact]
    public void Open_HeaderNotUtf8_NamesTheByte()
    {
        byte[] json = Encoding.UTF8.GetBytes("""{"w?":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""");
        json[Array.IndexOf(json, (byte)'?')] = 0xFF;
        string path = WriteRaw(json, 8);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not valid UTF-8", e.Message);
        Assert.Contains("byte 3", e.Message);
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "'w' appears twice")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", "too many elements")]
    [InlineData("""{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}""", "too many")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":["0",8]}}""", "not a valid range")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}}""", "not a valid range")]
    [InlineData("""{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}""", "not a list of sizes")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[9223372036854775807,8]}}""", "not a valid range")]
    [InlineData("""{"w":{"dtype":"1","shape":[4],"data_offsets":[0,8]}}""", "unknown dtype \"1\"")]
    [InlineData("""{"w":{"dtype":"F32, F16","shape":[4],"data_offsets":[0,8]}}""", "unknown dtype")]
    [InlineData("""{"__metadata__":5,"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "__metadata__")]
    [InlineData("""{"__metadata__":{"format":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "__metadata__")]
    [InlineData(""" {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "must begin with '{'")]
    [InlineData("""{"\uD800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "not valid")]
    [InlineData("""{"w":{"dtype":"\uDC00","shape":[2],"data_offsets":[0,8]}}""", "not valid")]
    [InlineData("""{"__metadata__":{"k":"\uD800x"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "not valid")]
    public void Open_MalformedEntry_NamesTheProblem(string header, string expected)
    {
        string path = WriteRaw(Encoding.UTF8.GetBytes(header), 8);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("""{"weight_map":{"w":5}}""", "weight_map entry 'w' is not a file name")]
    [InlineData("""{"weight_map":{"w":null}}""", "weight_map entry 'w' is not a file name")]
    [InlineData("""{"weight_map":{"w":"a.safetensors","w":"b.safetensors"}}""", "weight_map entry 'w' appears twice")]
    [InlineData("""{"weight_map":{"\uD800":"a.safetensors"}}""", "not valid JSON text")]
    [InlineData("""{"weight_map":[]}""", "no \"weight_map\" object")]
    [InlineData("""[]""", "no \"weight_map\" object")]
    public void CheckpointOpen_BadIndex_NamesTheProblem(string index, string expected)
    {
        File.WriteAllText(Path.Combine(_dir, SafeTensorsCheckpoint.IndexFileName), index);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsCheckpoint.Open(_dir));
        Assert.Contains(SafeTensorsCheckpoint.IndexFileName, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void RawBytes_TensorOver2GiB_NamesItsSize()
    {
        // A sparse file: 2 GiB of data that takes no disk space.
        string path = Path.Combine(_dir, "big.safetensors");
        byte[] header = Encoding.UTF8.GetBytes("""{"big":{"dtype":"I64","shape":[268435457],"data_offsets":[0,2147483656]}}""");
        using (var stream = new FileStream(path, FileMode.Create))
        {
            stream.Write([.. BitConverter.GetBytes((long)header.Length), .. header]);
            stream.SetLength(8 + header.Length + 2147483656L);
        }
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        var e = Assert.Throws<SafeTensorsException>(() => file.ReadInt64("big"));
        Assert.Contains("'big'", e.Message);
        Assert.Contains("2147483656 bytes", e.Message);
    }

    [Fact]
    public void ReadFloat32_WrongShapeOrMissingTensor_NamesIt()
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(WriteValid());
        Assert.Contains("has shape [2], expected [3]", Assert.Throws<SafeTensorsException>(() => file.ReadFloat32("w", 3)).Message);
        Assert.Contains("no tensor named 'missing'", Assert.Throws<SafeTensorsException>(() => file.ReadFloat32("missing")).Message);
    }

    [Fact]
    public void Open_TooShortOrMissing_IsClearError()
    {
        string path = Path.Combine(_dir, "short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path)).Message);
        Assert.Contains("not found", Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path + ".nope")).Message);
    }

    private string WriteRaw(byte[] header, int dataBytes)
    {
        string path = Path.Combine(_dir, $"raw-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)header.Length), .. header, .. new byte[dataBytes]]);
        return path;
    }

    private string WriteValid()
    {
        string path = Path.Combine(_dir, "valid.safetensors");
        SafeTensorsWriter.Write(path, [TensorToWrite.Float32("w", [2], [1f, 2f])]);
        return path;
    }
}
