using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MatMulFree.Core;

namespace MatMulFree.Cli.Commands;

/// <summary>The few HTTP calls `mmf chat` and `mmf sessions` make to a running `mmf serve`; API errors become one clear line.</summary>
public sealed class SessionsClient : IDisposable
{
    private readonly HttpClient _http;

    public SessionsClient(string url, string? apiKey)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
            throw new MatMulFreeException($"--url must be an http(s) URL, got '{url}'");
        _http = new HttpClient { BaseAddress = address, Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(apiKey))
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public async Task<JsonNode> GetAsync(string path, CancellationToken cancellationToken) =>
        await ReadAsync(await SendAsync(() => _http.GetAsync(path, cancellationToken)), cancellationToken);

    public async Task<JsonNode> PostAsync(string path, object body, CancellationToken cancellationToken) =>
        await ReadAsync(await SendAsync(() => _http.PostAsJsonAsync(path, body, cancellationToken)), cancellationToken);

    public async Task<JsonNode> DeleteAsync(string path, CancellationToken cancellationToken) =>
        await ReadAsync(await SendAsync(() => _http.DeleteAsync(path, cancellationToken)), cancellationToken);

    /// <summary>POSTs with <c>stream: true</c> and yields each server-sent event's JSON.</summary>
    public async IAsyncEnumerable<JsonNode> StreamAsync(string path, object body, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        using var response = await SendAsync(() => _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken));
        if (!response.IsSuccessStatusCode)
            await ReadAsync(response, cancellationToken);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal))
                continue;
            var chunk = JsonNode.Parse(line["data: ".Length..])!;
            if (chunk["error"]?["message"]?.GetValue<string>() is { } message)
                throw new MatMulFreeException($"server: {message}");
            yield return chunk;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(Func<Task<HttpResponseMessage>> send)
    {
        try
        {
            return await send();
        }
        catch (HttpRequestException e)
        {
            throw new MatMulFreeException($"cannot reach {_http.BaseAddress} ({e.Message}); is `mmf serve` running there? (--url)");
        }
    }

    private static async Task<JsonNode> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text = await response.Content.ReadAsStringAsync(cancellationToken);
        JsonNode? body = null;
        try { body = JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException) { }
        if (!response.IsSuccessStatusCode)
            throw new MatMulFreeException($"server answered {(int)response.StatusCode}: {body?["error"]?["message"]?.GetValue<string>() ?? text}");
        return body ?? throw new MatMulFreeException($"server answered {(int)response.StatusCode} without JSON: {text}");
    }

    public void Dispose() => _http.Dispose();
}
