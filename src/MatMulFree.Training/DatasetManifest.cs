using System.Text.Json;
using System.Text.Json.Serialization;

namespace MatMulFree.Training;

/// <summary>
/// <c>dataset.json</c> of a prepared data set: the tokenizer it was made with, the token width,
/// and every shard with its token count and SHA-256. Written after the shards, so a data set
/// whose manifest exists is whole.
/// </summary>
public sealed record DatasetManifest
{
    public const string FileName = "dataset.json";
    public const string CurrentFormat = "mmf-tokens/1";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Format { get; init; } = CurrentFormat;
    public required string Tokenizer { get; init; }
    public required int VocabSize { get; init; }

    /// <summary>Bytes per token: 2 (uint16, little-endian) when the vocabulary fits, else 4 (uint32).</summary>
    public required int TokenBytes { get; init; }

    public required long Documents { get; init; }
    public required IReadOnlyList<DatasetShard> Shards { get; init; }

    public long Tokens => Shards.Sum(s => s.Tokens);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static DatasetManifest Parse(string json, string source)
    {
        DatasetManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<DatasetManifest>(json, Json);
        }
        catch (JsonException e)
        {
            throw new TrainingException($"{source}: not a valid data set manifest ({e.Message})", e);
        }
        if (manifest is null || manifest.Format != CurrentFormat)
            throw new TrainingException($"{source}: format is '{manifest?.Format}', expected '{CurrentFormat}'");
        if (manifest.TokenBytes is not (2 or 4))
            throw new TrainingException($"{source}: tokenBytes must be 2 or 4, got {manifest.TokenBytes}");
        if (manifest.Shards.Count == 0)
            throw new TrainingException($"{source}: the data set has no shards");
        return manifest;
    }
}

/// <summary>One shard file of a data set, relative to the data set's folder.</summary>
public sealed record DatasetShard(string Path, long Tokens, string Sha256);
