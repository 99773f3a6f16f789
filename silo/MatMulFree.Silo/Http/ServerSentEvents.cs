using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace MatMulFree.Silo.Http;

/// <summary>Server-sent events as the OpenAI streaming API sends them: <c>data: {json}</c> per chunk, <c>data: [DONE]</c> last.</summary>
public static class ServerSentEvents
{
    public static void Start(HttpResponse response)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
    }

    public static async Task WriteAsync(HttpResponse response, object chunk)
    {
        await response.WriteAsync($"data: {JsonSerializer.Serialize(chunk, ApiJson.Options)}\n\n");
        await response.Body.FlushAsync();
    }

    public static async Task DoneAsync(HttpResponse response)
    {
        await response.WriteAsync("data: [DONE]\n\n");
        await response.Body.FlushAsync();
    }
}
