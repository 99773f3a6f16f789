using System.Text.Json;
using System.Text.Json.Serialization;
using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Http;

namespace MatMulFree.Silo.Http;

/// <summary>JSON as the OpenAI API writes it (snake_case, nulls omitted), and request bodies read with errors that say what is wrong.</summary>
public static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    public static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken) where T : class
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(request.Body, Options, cancellationToken)
                ?? throw new ServingRequestException("request body is JSON null; expected an object");
        }
        catch (JsonException e)
        {
            string where = e.Path is { Length: > 1 } path ? $" at {path}" : "";
            throw new ServingRequestException($"request body is not valid JSON for this endpoint{where}: {e.Message.Split(" Path:")[0]}");
        }
    }
}
