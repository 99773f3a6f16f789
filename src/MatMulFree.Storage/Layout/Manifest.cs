using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MatMulFree.Storage;

/// <summary>
/// manifest.json of a model version or a checkpoint: every file with its size and SHA-256. It is
/// written last and only if absent, so a snapshot exists exactly when its manifest does, and it is
/// the reference that downloads and <c>verify</c> check the bytes against.
/// </summary>
public sealed record Manifest
{
    public const string CurrentFormat = "mmf-manifest/1";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Format { get; init; } = CurrentFormat;

    /// <summary>"model" or "checkpoint".</summary>
    public required string Kind { get; init; }

    public required DateTimeOffset CreatedUtc { get; init; }

    public required IReadOnlyList<ManifestEntry> Files { get; init; }

    /// <summary>Training step of a checkpoint.</summary>
    public long? Step { get; init; }

    /// <summary>Validation loss at a checkpoint, when measured: retention keeps the lowest.</summary>
    public double? ValidationLoss { get; init; }

    public long TotalBytes => Files.Sum(f => f.Size);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>
    /// Lowercase hex SHA-256 of <see cref="ToJson"/>: it changes with any file's path, size or hash,
    /// so it names the snapshot's exact contents (a version deleted and pushed again gets another).
    /// </summary>
    public string Sha256() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToJson())));

    /// <summary>Parses and checks a manifest; <paramref name="source"/> names it in errors.</summary>
    public static Manifest Parse(string json, string source)
    {
        Manifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(json, Json);
        }
        catch (JsonException e)
        {
            throw new StoreException($"manifest {source} is not valid JSON: {e.Message}", e);
        }
        if (manifest is null || manifest.Format != CurrentFormat)
            throw new StoreException($"manifest {source} has format '{manifest?.Format}', expected '{CurrentFormat}'");
        foreach (var file in manifest.Files)
        {
            if (file.Path == StoreLayout.ManifestFile || file.Size < 0 || file.Sha256 is not { Length: 64 })
                throw new StoreException($"manifest {source} has a bad entry for '{file.Path}'");
            BlobPath.Validate(file.Path);
        }
        return manifest;
    }
}
