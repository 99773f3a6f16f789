using System.Text.Json;

namespace MatMulFree.Storage;

/// <summary>
/// The content of <c>runs/{run}/latest</c>: which checkpoint a resume starts from. It is moved only
/// by compare-and-swap on the blob's <see cref="ETag"/> (not part of the JSON).
/// </summary>
public sealed record LatestPointer(long Step, DateTimeOffset UpdatedUtc)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>ETag of the pointer blob this was read from: the precondition of the next move.</summary>
    public string ETag { get; init; } = "";

    public string ToJson() => JsonSerializer.Serialize(new { Step, UpdatedUtc }, Json);

    public static LatestPointer Parse(string json, string etag, string source)
    {
        try
        {
            var pointer = JsonSerializer.Deserialize<LatestPointer>(json, Json);
            if (pointer is null || pointer.Step < 0) throw new JsonException("no step");
            return pointer with { ETag = etag };
        }
        catch (JsonException e)
        {
            throw new StoreException($"latest pointer {source} is not valid: {e.Message}", e);
        }
    }
}
