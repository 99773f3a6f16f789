using System.Text;
using CsCheck;
using MatMulFree.Core.SafeTensors;

namespace MatMulFree.Core.Tests;

/// <summary>
/// Random corruptions of safetensors files. Whatever the bytes, opening one either fails with a
/// <see cref="SafeTensorsException"/> (which the CLI reports as one line) or gives a file whose
/// tensors tile its data section exactly; nothing else may escape.
/// </summary>
public sealed class SafeTensorsFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mmf-st-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Gen<string> Number = Gen.OneOf(
        "0", "1", "2", "3", "4", "8", "12", "16", "24", "-1", "1.5", "8.0", "1e30", "4294967296", "9223372036854775807",
        "9223372036854775808", "\"8\"", "null", "[]", "{}", "true");

    private static readonly Gen<string> DType = Gen.OneOf(
        "\"F32\"", "\"F16\"", "\"BF16\"", "\"I64\"", "\"I32\"", "\"U8\"", "\"BOOL\"", "\"Q4\"", "\"\\uDC00\"", "\"1\"", "\"F32, F16\"", "\"\"", "3", "null");

    private static readonly Gen<string> Entry =
        Gen.Select(DType, Number.Array[0, 3], Number.Array[1, 3], Gen.Int[0, 9], (dtype, shape, offsets, form) => form switch
        {
            0 => "5",
            1 => $$"""{"dtype":{{dtype}},"shape":[{{string.Join(",", shape)}}]}""",
            2 => $$"""{"dtype":{{dtype}},"shape":{{shape.FirstOrDefault("7")}},"data_offsets":[{{string.Join(",", offsets)}}]}""",
            _ => $$"""{"dtype":{{dtype}},"shape":[{{string.Join(",", shape)}}],"data_offsets":[{{string.Join(",", offsets)}}]}""",
        });

    private static readonly Gen<string> Metadata = Gen.OneOf(
        "", "\"__metadata__\":{\"format\":\"pt\"}", "\"__metadata__\":5", "\"__metadata__\":{\"a\":1}",
        "\"__metadata__\":[\"x\"]", "\"__metadata__\":{},\"__metadata__\":{}", "\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}");

    private static readonly Gen<(string Header, int DataBytes)> StructuredFile =
        Gen.Select(Metadata, Gen.Select(Gen.OneOf("a", "b", "c", "a", "\\uD800"), Entry).Array[0, 4], Gen.Int[0, 24],
            (metadata, entries, dataBytes) =>
            {
                var members = entries.Select(e => $"\"{e.Item1}\":{e.Item2}").Prepend(metadata).Where(m => m.Length > 0);
                return ("{" + string.Join(",", members) + "}", dataBytes);
            });

    [Fact]
    public void Open_RandomHeaders_OnlySafeTensorsExceptionEscapes() =>
        StructuredFile.Sample(file =>
        {
            byte[] header = Encoding.UTF8.GetBytes(file.Header);
            OpenAndCheck([.. BitConverter.GetBytes((long)header.Length), .. header, .. new byte[file.DataBytes]]);
        }, iter: 3000, threads: 1, print: file => $"{file.Header} + {file.DataBytes} data bytes");

    // Well-formed files and near misses: tensors laid end to end, then (kind 1-4) one offset or the
    // data length moved by a few bytes. Kind 0 (untouched) must open; the others may not lie.
    private static readonly Gen<(string[] DTypes, int[][] Shapes, int Kind, int Which, int Delta)> TiledFile =
        Gen.Select(Gen.Select(Gen.OneOf("F32", "F16", "BF16", "I64", "I32", "U8", "BOOL"), Gen.Int[0, 3].Array[0, 3]).Array[0, 4],
            Gen.Int[0, 4], Gen.Int[0, 3], Gen.Int[-9, 9],
            (tensors, kind, which, delta) => (tensors.Select(t => t.Item1).ToArray(), tensors.Select(t => t.Item2).ToArray(), kind, which, delta));

    [Fact]
    public void Open_TiledFilesAndNearMisses_OpenExactlyWhenTheyTile() =>
        TiledFile.Sample(file =>
        {
            var (header, dataBytes) = Tiled(file);
            byte[] json = Encoding.UTF8.GetBytes(header);
            bool opened = OpenAndCheck([.. BitConverter.GetBytes((long)json.Length), .. json, .. new byte[dataBytes]]);
            if (file.Kind == 0 || file.Delta == 0) Assert.True(opened, "a file whose tensors tile its data was refused");
        }, iter: 2000, threads: 1, print: file => Tiled(file).Header + $" + {Tiled(file).DataBytes} data bytes");

    private static (string Header, long DataBytes) Tiled((string[] DTypes, int[][] Shapes, int Kind, int Which, int Delta) file)
    {
        var members = new List<string>();
        long offset = 0;
        for (int i = 0; i < file.DTypes.Length; i++)
        {
            int size = file.DTypes[i] switch { "I64" => 8, "F32" or "I32" => 4, "F16" or "BF16" => 2, _ => 1 };
            long begin = offset, end = offset + size * file.Shapes[i].Aggregate(1L, (n, d) => n * d);
            offset = end;
            if (i == file.Which && file.Kind == 1) begin += file.Delta;
            if (i == file.Which && file.Kind == 2) end += file.Delta;
            if (i == file.Which && file.Kind == 3) { begin += file.Delta; end += file.Delta; }
            members.Add($$"""
                "t{{i}}":{"dtype":"{{file.DTypes[i]}}","shape":[{{string.Join(",", file.Shapes[i])}}],"data_offsets":[{{begin}},{{end}}]}
                """);
        }
        long dataBytes = Math.Max(0, offset + (file.Kind == 4 ? file.Delta : 0));
        return ("{" + string.Join(",", members) + "}", dataBytes);
    }

    [Fact]
    public void Open_RandomByteCorruptions_OnlySafeTensorsExceptionEscapes()
    {
        string validPath = Path.Combine(_dir, "valid.safetensors");
        SafeTensorsWriter.Write(validPath, [
            TensorToWrite.Float32("w", [2, 3], [1, 2, 3, 4, 5, 6]),
            TensorToWrite.Int64("ids", [2], [7, 8]),
            TensorToWrite.BFloat16("b", [3], [1, 2, 3]),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        byte[] valid = File.ReadAllBytes(validPath);

        // Each corruption: (kind, position, value). Kinds: overwrite a byte, cut the file there, insert a byte.
        var corruption = Gen.Select(Gen.Int[0, 2], Gen.Int[0, valid.Length - 1], Gen.Byte);
        corruption.Array[1, 4].Sample(changes =>
        {
            var bytes = valid.ToList();
            foreach (var (kind, at, value) in changes)
            {
                int position = Math.Min(at, bytes.Count - 1);
                if (position < 0) break;
                switch (kind)
                {
                    case 0: bytes[position] = value; break;
                    case 1: bytes.RemoveRange(position, bytes.Count - position); break;
                    default: bytes.Insert(position, value); break;
                }
            }
            OpenAndCheck([.. bytes]);
        }, iter: 3000, threads: 1, print: changes => string.Join("; ", changes.Select(c => $"{c.Item1}@{c.Item2}={c.Item3:X2}")));
    }

    /// <returns>Whether the file opened (and then its tensors tile its data exactly).</returns>
    private bool OpenAndCheck(byte[] bytes)
    {
        string path = Path.Combine(_dir, "fuzz.safetensors");
        File.WriteAllBytes(path, bytes);
        SafeTensorsFile file;
        try
        {
            file = SafeTensorsFile.Open(path);
        }
        catch (SafeTensorsException)
        {
            return false;
        }
        using (file)
        {
            long dataStart = 8 + BitConverter.ToInt64(bytes, 0);
            long covered = dataStart;
            foreach (TensorEntry entry in file.Tensors.Values.OrderBy(t => t.DataOffset).ThenBy(t => t.ByteLength))
            {
                Assert.Equal(covered, entry.DataOffset);
                Assert.Equal(entry.ElementCount * entry.DType.ByteSize(), entry.ByteLength);
                Assert.Equal(entry.ByteLength, file.RawBytes(entry.Name).Length);
                covered += entry.ByteLength;
            }
            Assert.Equal(bytes.Length, covered);
        }
        return true;
    }
}
