using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace MatMulFree.Core.SafeTensors;

/// <summary>
/// One <c>.safetensors</c> file, memory-mapped. The whole header is validated on open (UTF-8,
/// sizes, dtypes, offsets that tile the data section exactly), so a malformed file fails at once with a message naming the
/// file and tensor, never later deep inside a reader.
/// Format: 8-byte little-endian header length N, N bytes of JSON, then the raw data.
/// </summary>
public sealed unsafe class SafeTensorsFile : ITensorSource, IDisposable
{
    private const long MaxHeaderBytes = 100L << 20; // the format's own limit
    private const string MetadataKey = "__metadata__";

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly Dictionary<string, TensorEntry> _tensors;

    public string Path { get; }
    public IReadOnlyDictionary<string, TensorEntry> Tensors => _tensors;
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IEnumerable<string> Names => _tensors.Keys;

    private SafeTensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePointer,
        Dictionary<string, TensorEntry> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        _tensors = tensors;
        Metadata = metadata;
    }

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new SafeTensorsException($"{path}: file not found");
        // The stream's length, not FileInfo's: FileInfo describes a symbolic link itself, not its target.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = stream.Length;
        if (length < 8)
        {
            stream.Dispose();
            throw new SafeTensorsException($"{path}: {length} bytes is too short for a safetensors file (no 8-byte header length)");
        }

        var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        try
        {
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;
            var (tensors, metadata) = ParseHeader(path, new ReadOnlySpan<byte>(pointer, checked((int)Math.Min(length, MaxHeaderBytes + 8))), length);
            return new SafeTensorsFile(path, map, view, pointer, tensors, metadata);
        }
        catch
        {
            if (pointer != null) view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            map.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, TensorEntry>, Dictionary<string, string>) ParseHeader(string path, ReadOnlySpan<byte> start, long fileLength)
    {
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(start[..8]);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes)
            throw new SafeTensorsException($"{path}: header length {headerLength} is not plausible (the file is not safetensors, or is corrupt)");
        if (headerLength > fileLength - 8)
            throw new SafeTensorsException($"{path}: header says {headerLength} bytes but the file has only {fileLength - 8} after the length (truncated file)");

        long dataStart = 8 + headerLength;
        long dataLength = fileLength - dataStart;
        ReadOnlySpan<byte> json = start.Slice(8, (int)headerLength);
        if (json[0] != (byte)'{')
            throw new SafeTensorsException($"{path}: header must begin with '{{' (the format allows no leading bytes), found byte 0x{json[0]:X2}");
        // System.Text.Json checks UTF-8 only when a string is read, and then throws an
        // InvalidOperationException; checked here first, the error can say where.
        if (!Utf8.IsValid(json))
            throw new SafeTensorsException($"{path}: header is not valid UTF-8 (first bad byte {FirstInvalidUtf8Byte(json)} of the header)");

        var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw new SafeTensorsException($"{path}: header is not valid JSON ({e.Message})");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsException($"{path}: header must be a JSON object");
            bool sawMetadata = false;
            try
            {
                foreach (JsonProperty property in document.RootElement.EnumerateObject())
                {
                    if (property.Name == MetadataKey)
                    {
                        if (sawMetadata)
                            throw new SafeTensorsException($"{path}: \"{MetadataKey}\" appears twice in the header");
                        sawMetadata = true;
                        ReadMetadata(path, property.Value, metadata);
                        continue;
                    }
                    if (tensors.ContainsKey(property.Name))
                        throw new SafeTensorsException($"{path}: tensor '{property.Name}' appears twice in the header");
                    tensors[property.Name] = ParseEntry(path, property, dataStart, dataLength);
                }
            }
            catch (InvalidOperationException e)
            {
                // Valid UTF-8 can still escape a lone surrogate ("\uD800"): no string holds it.
                throw new SafeTensorsException($"{path}: header is not valid JSON text ({e.Message})");
            }
        }
        CheckTiling(path, tensors.Values, dataStart, dataLength);
        return (tensors, metadata);
    }

    private static void ReadMetadata(string path, JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsException($"{path}: \"{MetadataKey}\" must be an object of strings, got {element.ValueKind.ToString().ToLowerInvariant()}");
        foreach (JsonProperty m in element.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new SafeTensorsException($"{path}: \"{MetadataKey}\" value of '{m.Name}' must be a string (the format allows only strings), got {m.Value.GetRawText()}");
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                throw new SafeTensorsException($"{path}: \"{MetadataKey}\" key '{m.Name}' appears twice");
        }
    }

    private static TensorEntry ParseEntry(string path, JsonProperty property, long dataStart, long dataLength)
    {
        string name = property.Name;
        string where = $"{path}: tensor '{name}'";
        JsonElement e = property.Value;
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out JsonElement shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !e.TryGetProperty("data_offsets", out JsonElement offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw new SafeTensorsException($"{where}: entry needs \"dtype\", \"shape\" and two \"data_offsets\"");

        string dtypeName = dtypeElement.GetString()!;
        if (!TensorDTypes.TryParse(dtypeName, out TensorDType dtype))
            throw new SafeTensorsException($"{where}: unknown dtype \"{dtypeName}\"");

        var shape = new long[shapeElement.GetArrayLength()];
        int i = 0;
        foreach (JsonElement s in shapeElement.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.Number || !s.TryGetInt64(out shape[i]) || shape[i] < 0)
                throw new SafeTensorsException($"{where}: shape {shapeElement.GetRawText()} is not a list of sizes");
            i++;
        }

        if (offsetsElement[0].ValueKind != JsonValueKind.Number || offsetsElement[1].ValueKind != JsonValueKind.Number
            || !offsetsElement[0].TryGetInt64(out long begin) || !offsetsElement[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new SafeTensorsException($"{where}: data_offsets {offsetsElement.GetRawText()} are not a valid range");
        if (end > dataLength)
            throw new SafeTensorsException($"{where}: data ends at byte {end} but the file has {dataLength} data bytes (truncated file)");

        // Checked: a shape whose product wraps around could otherwise match any span, even [0, 0].
        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (n, s) => n * s) * dtype.ByteSize());
        }
        catch (OverflowException)
        {
            throw new SafeTensorsException($"{where}: shape {TensorEntry.ShapeToText(shape)} has too many elements (its size in bytes overflows 64 bits)");
        }
        var entry = new TensorEntry(name, dtype, shape, dataStart + begin, end - begin);
        if (expected != entry.ByteLength)
            throw new SafeTensorsException($"{where}: {dtype} {entry.ShapeText} needs {expected} bytes but data_offsets give {entry.ByteLength}");
        return entry;
    }

    /// <summary>
    /// The format's rule: the tensors cover the data section exactly, each byte in one tensor. An
    /// overlap would let two tensors read each other's numbers; a hole or trailing bytes are data
    /// nobody reads (and room for a second file hidden in this one).
    /// </summary>
    private static void CheckTiling(string path, IEnumerable<TensorEntry> tensors, long dataStart, long dataLength)
    {
        long covered = 0;
        TensorEntry? previous = null;
        foreach (TensorEntry t in tensors.OrderBy(t => t.DataOffset).ThenBy(t => t.ByteLength))
        {
            long begin = t.DataOffset - dataStart;
            if (begin < covered)
                throw new SafeTensorsException(
                    $"{path}: tensor '{t.Name}' (data_offsets [{begin}, {begin + t.ByteLength}]) overlaps tensor '{previous!.Name}' " +
                    $"([{previous.DataOffset - dataStart}, {covered}]); tensors must not share bytes");
            if (begin > covered)
                throw new SafeTensorsException(
                    $"{path}: data bytes [{covered}, {begin}) before tensor '{t.Name}' are unused; the tensors must cover the data with no holes");
            covered = begin + t.ByteLength;
            previous = t;
        }
        if (covered != dataLength)
            throw new SafeTensorsException(previous is null
                ? $"{path}: the header lists no tensor but {dataLength} data bytes follow it (unused)"
                : $"{path}: data bytes [{covered}, {dataLength}) after tensor '{previous.Name}' are unused; the tensors must cover the data exactly");
    }

    private static int FirstInvalidUtf8Byte(ReadOnlySpan<byte> bytes)
    {
        Utf8.ToUtf16(bytes, new char[bytes.Length], out int read, out _, replaceInvalidSequences: false);
        return read;
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorEntry Entry(string name) =>
        _tensors.TryGetValue(name, out TensorEntry? entry)
            ? entry
            : throw new SafeTensorsException($"{Path}: no tensor named '{name}'");

    /// <summary>The tensor's raw little-endian bytes, straight from the mapping (no copy).</summary>
    public ReadOnlySpan<byte> RawBytes(string name)
    {
        TensorEntry entry = Entry(name);
        ObjectDisposedException.ThrowIf(_view is null, this);
        if (entry.ByteLength > Array.MaxLength)
            throw new SafeTensorsException($"{Path}: tensor '{name}' is {entry.ByteLength} bytes; this reader takes tensors of up to {Array.MaxLength} bytes (one span)");
        return new ReadOnlySpan<byte>(_base + entry.DataOffset, (int)entry.ByteLength);
    }

    public float[] ReadFloat32(string name, params long[] expectedShape)
    {
        TensorEntry entry = Entry(name);
        CheckShape(entry, expectedShape);
        ReadOnlySpan<byte> raw = RawBytes(name); // first: it refuses a tensor too large to allocate
        var result = new float[entry.ElementCount];
        switch (entry.DType)
        {
            case TensorDType.F32:
                MemoryMarshal.Cast<byte, float>(raw).CopyTo(result);
                break;
            case TensorDType.BF16:
                HalfPrecision.BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(raw), result);
                break;
            case TensorDType.F16:
                HalfPrecision.HalfToSingle(MemoryMarshal.Cast<byte, Half>(raw), result);
                break;
            default:
                throw new SafeTensorsException($"{Path}: tensor '{name}' is {entry.DType}, expected a float type (F32, BF16 or F16)");
        }
        return result;
    }

    public long[] ReadInt64(string name)
    {
        TensorEntry entry = Entry(name);
        ReadOnlySpan<byte> raw = RawBytes(name);
        return entry.DType switch
        {
            TensorDType.I64 => MemoryMarshal.Cast<byte, long>(raw).ToArray(),
            TensorDType.I32 => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(raw).ToArray(), v => (long)v),
            _ => throw new SafeTensorsException($"{Path}: tensor '{name}' is {entry.DType}, expected I64 or I32"),
        };
    }

    private void CheckShape(TensorEntry entry, long[] expectedShape)
    {
        if (expectedShape.Length > 0 && !entry.Shape.AsSpan().SequenceEqual(expectedShape))
            throw new SafeTensorsException(
                $"{Path}: tensor '{entry.Name}' has shape {entry.ShapeText}, expected {TensorEntry.ShapeToText(expectedShape)}");
    }

    public void Dispose()
    {
        if (_view is null) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map?.Dispose();
        GC.SuppressFinalize(this);
    }
}
