using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Http;

namespace MatMulFree.Silo.Http;

/// <summary>JSON as the OpenAI API writes it (snake_case, nulls omitted), and request bodies read with errors that say what is wrong.</summary>
public static class ApiJson
{
    /// <summary>
    /// The largest body read: a prompt at the default 8,192-token limit is well under 1 MiB even
    /// with every character escaped, so this leaves room without letting a client make the server
    /// buffer Kestrel's default of 30 MB per request.
    /// </summary>
    public const int MaxBodyBytes = 4 << 20;

    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    public static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken) where T : class
    {
        // A "simple" cross-site POST (text/plain, form types) needs no CORS preflight: refusing every
        // other type keeps a web page from making a visitor's browser run turns here.
        if (!request.HasJsonContentType())
            throw new UnsupportedMediaTypeException($"the request's Content-Type must be application/json, got '{request.ContentType ?? "none"}'");
        byte[] body = await ReadBodyAsync(request, cancellationToken);
        if (Utf8.ToUtf16(body, new char[body.Length], out int read, out _, replaceInvalidSequences: false) == OperationStatus.InvalidData)
            throw new ServingRequestException($"request body is not valid UTF-8 (invalid byte 0x{body[read]:X2} at offset {read})");
        try
        {
            CheckStrings(body);
            return JsonSerializer.Deserialize<T>(body, Options)
                ?? throw new ServingRequestException("request body is JSON null; expected an object");
        }
        catch (JsonException e)
        {
            string where = e.Path is { Length: > 1 } path ? $" at {path}" : "";
            throw new ServingRequestException($"request body is not valid JSON for this endpoint{where}: {e.Message.Split(" Path:")[0]}");
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBodyBytes)
            throw new RequestTooLargeException($"the request body is {request.ContentLength} bytes; this server reads at most {MaxBodyBytes}");
        using var body = new MemoryStream();
        byte[] buffer = new byte[81920];
        for (int n; (n = await request.Body.ReadAsync(buffer, cancellationToken)) > 0;)
        {
            if (body.Length + n > MaxBodyBytes)
                throw new RequestTooLargeException($"the request body is over {MaxBodyBytes} bytes, the most this server reads");
            body.Write(buffer, 0, n);
        }
        return body.ToArray();
    }

    /// <summary>
    /// Every string of the body must be text: an escaped lone surrogate (<c>"\ud800"</c>) is valid
    /// JSON syntax but no string, and would fail later, deep in the tokenizer or a JSON element.
    /// Syntax errors are left to the deserializer, whose message names the path.
    /// </summary>
    private static void CheckStrings(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        string? property = null;
        while (Next(ref reader))
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName))
                continue;
            string value;
            try
            {
                value = reader.GetString()!;
            }
            catch (InvalidOperationException)
            {
                string where = reader.TokenType == JsonTokenType.PropertyName ? "a property name" : property is null ? "a string" : $"the value of '{property}'";
                throw new ServingRequestException($"request body holds a lone surrogate (an unpaired \\uD800-\\uDFFF escape) in {where} at offset {reader.TokenStartIndex}: JSON strings must be Unicode text");
            }
            if (reader.TokenType == JsonTokenType.PropertyName)
                property = value;
        }
    }

    private static bool Next(ref Utf8JsonReader reader)
    {
        try { return reader.Read(); }
        catch (JsonException) { return false; }
    }
}
