using System.Text;
using System.Text.Json.Nodes;

namespace MatMulFree.Core.SafeTensors;

/// <summary>
/// Writes a <c>.safetensors</c> file the way Hugging Face's library does (header padded with
/// spaces to 8 bytes, data contiguous in the given order). The file is written beside its target
/// and renamed into place, so a crash never leaves a half-written checkpoint under the real name.
/// </summary>
public static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        List<TensorToWrite> list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (key, value) in metadata) meta[key] = value;
            header["__metadata__"] = meta;
        }

        long offset = 0;
        foreach (TensorToWrite t in list)
        {
            long elements = t.Shape.Aggregate(1L, (n, s) => n * s);
            if (elements * t.DType.ByteSize() != t.Data.Length)
                throw new SafeTensorsException(
                    $"{path}: tensor '{t.Name}' {t.DType} {TensorEntry.ShapeToText(t.Shape)} needs {elements * t.DType.ByteSize()} bytes, given {t.Data.Length}");
            if (header.ContainsKey(t.Name))
                throw new SafeTensorsException($"{path}: tensor '{t.Name}' given twice");
            header[t.Name] = new JsonObject
            {
                ["dtype"] = t.DType.ToSafeTensorsName(),
                ["shape"] = new JsonArray(t.Shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + t.Data.Length),
            };
            offset += t.Data.Length;
        }

        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(BitConverter.GetBytes((long)padded));
                stream.Write(json);
                for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
                foreach (TensorToWrite t in list) stream.Write(t.Data.Span);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
