using System.Text.Json;

namespace MatMulFree.Core.SafeTensors;

/// <summary>
/// A model folder's weights: <c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c> (<c>{"weight_map": {tensor: file}}</c>), as Hugging Face writes them.
/// </summary>
public sealed class SafeTensorsCheckpoint : ITensorSource, IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, SafeTensorsFile> _fileOf;
    private readonly List<SafeTensorsFile> _files;

    private SafeTensorsCheckpoint(Dictionary<string, SafeTensorsFile> fileOf, List<SafeTensorsFile> files)
    {
        _fileOf = fileOf;
        _files = files;
    }

    public IEnumerable<string> Names => _fileOf.Keys;
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    public static SafeTensorsCheckpoint Open(string modelDir)
    {
        string single = Path.Combine(modelDir, SingleFileName);
        string index = Path.Combine(modelDir, IndexFileName);
        if (File.Exists(single))
        {
            var file = SafeTensorsFile.Open(single);
            return new SafeTensorsCheckpoint(file.Names.ToDictionary(n => n, _ => file), [file]);
        }
        if (File.Exists(index))
            return OpenSharded(modelDir, index);
        throw new SafeTensorsException($"{modelDir}: no {SingleFileName} or {IndexFileName}");
    }

    private static SafeTensorsCheckpoint OpenSharded(string modelDir, string indexPath)
    {
        Dictionary<string, string> weightMap;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsException($"{indexPath}: no \"weight_map\" object");
            weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new SafeTensorsException($"{indexPath}: weight_map entry '{p.Name}' is not a file name");
                if (!weightMap.TryAdd(p.Name, p.Value.GetString()!))
                    throw new SafeTensorsException($"{indexPath}: weight_map entry '{p.Name}' appears twice");
            }
        }
        catch (JsonException e)
        {
            throw new SafeTensorsException($"{indexPath}: not valid JSON ({e.Message})");
        }
        catch (InvalidOperationException e)
        {
            // A name that escapes a lone surrogate ("\uD800") is valid JSON but no string.
            throw new SafeTensorsException($"{indexPath}: not valid JSON text ({e.Message})");
        }

        var shards = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        var fileOf = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (tensor, shardName) in weightMap)
            {
                if (shardName.Contains('/') || shardName.Contains('\\'))
                    throw new SafeTensorsException($"{indexPath}: shard name '{shardName}' must be a file name in the same folder");
                if (!shards.TryGetValue(shardName, out SafeTensorsFile? shard))
                    shards[shardName] = shard = SafeTensorsFile.Open(Path.Combine(modelDir, shardName));
                if (!shard.Contains(tensor))
                    throw new SafeTensorsException($"{shard.Path}: index says it holds tensor '{tensor}', but it does not");
                fileOf[tensor] = shard;
            }
        }
        catch
        {
            foreach (SafeTensorsFile s in shards.Values) s.Dispose();
            throw;
        }
        return new SafeTensorsCheckpoint(fileOf, shards.Values.ToList());
    }

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    public TensorEntry Entry(string name) => FileOf(name).Entry(name);

    public float[] ReadFloat32(string name, params long[] expectedShape) => FileOf(name).ReadFloat32(name, expectedShape);

    private SafeTensorsFile FileOf(string name) =>
        _fileOf.TryGetValue(name, out SafeTensorsFile? file)
            ? file
            : throw new SafeTensorsException($"{string.Join(", ", _files.Select(f => f.Path))}: no tensor named '{name}'");

    public void Dispose()
    {
        foreach (SafeTensorsFile file in _files) file.Dispose();
    }
}
