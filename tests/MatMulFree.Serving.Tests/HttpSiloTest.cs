using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using MatMulFree.Silo;

namespace MatMulFree.Serving.Tests;

/// <summary>A test class's HTTP silo serving the tiny model without API keys, and the requests its tests send.</summary>
public abstract class HttpSiloTest : IAsyncLifetime
{
    protected HttpSilo Silo { get; private set; } = null!;

    /// <summary>What the server logged, for tests of what goes to the log rather than to the client.</summary>
    protected CapturedLog Log { get; } = new();

    protected virtual SiloSettings Settings()
    {
        var settings = TestModels.TinySettings();
        return new SiloSettings { Models = settings.Models, Limits = settings.Limits, EngineThreads = 1, MaxPromptTokens = 64, MaxNewTokens = 100 };
    }

    public async Task InitializeAsync() => Silo = await HttpSilo.StartAsync(Settings(), Log);

    public async Task DisposeAsync() => await Silo.DisposeAsync();

    protected Task<HttpResponseMessage> PostAsync(string path, string json, string mediaType = "application/json") =>
        PostAsync(path, new ByteArrayContent(Encoding.UTF8.GetBytes(json)) { Headers = { ContentType = MediaTypeHeaderValue.Parse(mediaType) } });

    protected async Task<HttpResponseMessage> PostAsync(string path, HttpContent content) =>
        await Silo.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = content });

    protected static async Task<JsonNode> JsonAsync(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    /// <summary>The JSON chunks of a server-sent event stream, without the final <c>[DONE]</c> (asserted).</summary>
    protected static async Task<JsonNode[]> EventsAsync(HttpResponseMessage response)
    {
        var lines = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", lines[^1]);
        return [.. lines[..^1].Select(l => JsonNode.Parse(l["data: ".Length..])!)];
    }

    protected static string ErrorMessage(JsonNode body) => body["error"]!["message"]!.GetValue<string>();
}
