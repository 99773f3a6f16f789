using System.Buffers.Binary;
using System.IO.Hashing;
using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MatMulFree.Core;

namespace MatMulFree.Engine;

/// <summary>
/// The serving file (<c>model.mmfserve</c>) written by <c>mmf convert</c> and memory-mapped by
/// the engine: the tensors of an <see cref="EngineModel"/> in a versioned, checksummed layout.
/// <code>
/// 0        8  magic "MMFSERVE"
/// 8        4  format version (little-endian u32)
/// 12       4  header length H
/// 16       8  XxHash3 of the header
/// 24       H  header, UTF-8 JSON: config (the Hugging Face config.json text), model_identity,
///             tensors [{name, kind, shape, scale, offset, length, xxhash3}]
/// ...         tensor bytes, each at a 64-byte-aligned offset (aligned SIMD loads from the map)
/// </code>
/// Every tensor's checksum is verified when the file is opened; a mismatch, a truncation or a
/// header that does not parse is a <see cref="ServingFileException"/> naming the file and tensor.
/// </summary>
public static unsafe class ServingFile
{
    public const string FileName = "model.mmfserve";
    /// <summary>2: ternary rows tiled by 4, blocks interleaved (<see cref="Kernels.TernaryCodes"/>); 1 stored them row by row.</summary>
    public const int FormatVersion = 2;
    private const int PrefixBytes = 24;
    private const int Alignment = 64;
    private static ReadOnlySpan<byte> Magic => "MMFSERVE"u8;

    public static void Write(EngineModel model, string path)
    {
        var entries = new JsonArray();
        long offset = 0;
        var offsets = new long[model.Tensors.Count];
        for (int i = 0; i < model.Tensors.Count; i++)
        {
            var t = model.Tensors[i];
            offsets[i] = offset;
            entries.Add(new JsonObject
            {
                ["name"] = t.Name,
                ["kind"] = t.Kind.ToString(),
                ["shape"] = new JsonArray(t.Shape.Select(s => (JsonNode)s).ToArray()),
                ["scale"] = t.Scale,
                ["offset"] = offset, // relative to the data start; fixed up below
                ["length"] = t.ByteLength,
                ["xxhash3"] = t.Checksum.ToString("x16"),
            });
            offset = Align(offset + t.ByteLength);
        }
        // The data start depends on the header length, which depends on the offsets' digits:
        // write offsets relative to a data start rounded up generously, then fix it.
        byte[] header = [];
        long dataStart = 0;
        var root = new JsonObject
        {
            ["config"] = model.Config.ToJson(),
            ["model_identity"] = model.IdentityHex,
            ["tensors"] = entries,
        };
        for (int attempt = 0; attempt < 3; attempt++)
        {
            for (int i = 0; i < offsets.Length; i++)
                entries[i]!["offset"] = dataStart + offsets[i];
            header = Encoding.UTF8.GetBytes(root.ToJsonString());
            long needed = Align(PrefixBytes + header.Length + 256);
            if (needed <= dataStart)
                break;
            dataStart = needed;
        }

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> prefix = stackalloc byte[PrefixBytes];
        Magic.CopyTo(prefix);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[8..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[12..], (uint)header.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(prefix[16..], XxHash3.HashToUInt64(header));
        stream.Write(prefix);
        stream.Write(header);
        for (int i = 0; i < model.Tensors.Count; i++)
        {
            Pad(stream, dataStart + offsets[i]);
            var t = model.Tensors[i];
            for (long done = 0; done < t.ByteLength; done += int.MaxValue / 2)
                stream.Write(new ReadOnlySpan<byte>(t.Data + done, (int)Math.Min(int.MaxValue / 2, t.ByteLength - done)));
        }
    }

    /// <summary>Maps the file and verifies it; <paramref name="verifyChecksums"/> false skips the per-tensor hashes (faster start, for trusted files).</summary>
    public static EngineModel Open(string path, bool verifyChecksums = true)
    {
        if (!File.Exists(path))
            throw new ServingFileException($"{path}: serving file not found");
        long length = new FileInfo(path).Length;
        if (length < PrefixBytes)
            throw new ServingFileException($"{path}: {length} bytes, shorter than the {PrefixBytes}-byte prefix (truncated?)");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        var mapping = new Mapping(map, view);
        try
        {
            byte* basePtr = mapping.Pointer;
            var prefix = new ReadOnlySpan<byte>(basePtr, PrefixBytes);
            if (!prefix[..8].SequenceEqual(Magic))
                throw new ServingFileException($"{path}: not a serving file (bad magic; write one with `mmf convert`)");
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]);
            if (version != FormatVersion)
                throw new ServingFileException($"{path}: serving format version {version}, this engine reads version {FormatVersion}; convert the model again");
            uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix[12..]);
            if (PrefixBytes + (long)headerLength > length)
                throw new ServingFileException($"{path}: the header ({headerLength} bytes) runs past the end of the file (truncated)");
            var header = new ReadOnlySpan<byte>(basePtr + PrefixBytes, (int)headerLength);
            if (XxHash3.HashToUInt64(header) != BinaryPrimitives.ReadUInt64LittleEndian(prefix[16..]))
                throw new ServingFileException($"{path}: header checksum mismatch (the file is corrupted)");

            JsonObject root;
            try { root = JsonNode.Parse(header)!.AsObject(); }
            catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
            {
                throw new ServingFileException($"{path}: header is not valid JSON ({e.Message})", e);
            }
            var config = ModelConfig.Parse(Field<string>(root, "config", path), $"{path} (config)");
            var tensors = new List<ServingTensor>();
            foreach (var node in root["tensors"]?.AsArray() ?? throw new ServingFileException($"{path}: header has no tensors"))
            {
                var entry = node!.AsObject();
                string name = Field<string>(entry, "name", path);
                if (!Enum.TryParse<ServingTensorKind>(Field<string>(entry, "kind", path), out var kind))
                    throw new ServingFileException($"{path}: tensor {name} has unknown kind {entry["kind"]}");
                long offset = Field<long>(entry, "offset", path), bytes = Field<long>(entry, "length", path);
                if (offset < 0 || bytes < 0 || offset + bytes > length)
                    throw new ServingFileException($"{path}: tensor {name} spans bytes {offset}..{offset + bytes}, the file has {length} (truncated)");
                ulong checksum = Convert.ToUInt64(Field<string>(entry, "xxhash3", path), 16);
                byte* data = basePtr + offset;
                if (verifyChecksums && Hash(data, bytes) != checksum)
                    throw new ServingFileException($"{path}: tensor {name} checksum mismatch (the file is corrupted)");
                long[] shape = entry["shape"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
                tensors.Add(new ServingTensor(name, kind, shape, Field<float>(entry, "scale", path), data, bytes, checksum));
            }
            var model = new EngineModel(config, tensors, mapping, path);
            string identity = Field<string>(root, "model_identity", path);
            if (identity != model.IdentityHex)
                throw new ServingFileException($"{path}: header says model {identity}, the tensors make {model.IdentityHex} (the file is inconsistent)");
            return model;
        }
        catch
        {
            mapping.Dispose();
            throw;
        }
    }

    private static T Field<T>(JsonObject o, string key, string path)
    {
        try
        {
            return o[key] is { } node ? node.GetValue<T>() : throw new ServingFileException($"{path}: header field \"{key}\" is missing");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new ServingFileException($"{path}: header field \"{key}\" has the wrong type", e);
        }
    }

    private static ulong Hash(byte* data, long bytes)
    {
        var hash = new XxHash3();
        for (long done = 0; done < bytes; done += int.MaxValue / 2)
            hash.Append(new ReadOnlySpan<byte>(data + done, (int)Math.Min(int.MaxValue / 2, bytes - done)));
        return hash.GetCurrentHashAsUInt64();
    }

    private static long Align(long value) => (value + Alignment - 1) / Alignment * Alignment;

    private static void Pad(Stream stream, long position)
    {
        if (stream.Position > position)
            throw new InvalidOperationException("serving file layout overlaps");
        Span<byte> zeros = stackalloc byte[Alignment];
        while (stream.Position < position)
            stream.Write(zeros[..(int)Math.Min(Alignment, position - stream.Position)]);
    }

    /// <summary>Owns the map while the model's pointers are in use.</summary>
    private sealed class Mapping : IDisposable
    {
        private readonly MemoryMappedFile _map;
        private readonly MemoryMappedViewAccessor _view;

        public Mapping(MemoryMappedFile map, MemoryMappedViewAccessor view)
        {
            _map = map;
            _view = view;
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            Pointer = p + view.PointerOffset;
        }

        public byte* Pointer { get; }

        private bool _disposed;

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map.Dispose();
        }
    }
}
