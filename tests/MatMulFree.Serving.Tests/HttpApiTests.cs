using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MatMulFree.Silo;

namespace MatMulFree.Serving.Tests;

/// <summary>The silo's HTTP API over the tiny model: OpenAI-compatible endpoints, sessions, API keys, and a 4xx for every bad request.</summary>
public sealed class HttpApiTests : IAsyncLifetime
{
    private const string KeyA = "key-alpha", KeyB = "key-beta";
    private HttpSilo _silo = null!;

    public async Task InitializeAsync()
    {
        var settings = TestModels.TinySettings();
        _silo = await HttpSilo.StartAsync(new SiloSettings
        {
            Models = settings.Models, Limits = settings.Limits, EngineThreads = 1, MaxPromptTokens = 64, MaxNewTokens = 100, ApiKeys = [KeyA, KeyB],
        });
    }

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? json = null, string? key = KeyA)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (key is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await _silo.Client.SendAsync(request);
    }

    private static async Task<JsonNode> JsonAsync(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    [Fact]
    public async Task HttpApi_Models_ListsTheServedModel()
    {
        var body = await JsonAsync(await SendAsync(HttpMethod.Get, "/v1/models"));
        Assert.Equal("tiny", body["data"]![0]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task HttpApi_Completions_SameSeedSameTokensAndStreamingAgrees()
    {
        const string request = """{"model":"tiny","prompt":"Hello","max_tokens":12,"temperature":0.8,"seed":42}""";
        var first = await JsonAsync(await SendAsync(HttpMethod.Post, "/v1/completions", request));
        var second = await JsonAsync(await SendAsync(HttpMethod.Post, "/v1/completions", request));
        var streamed = await SendAsync(HttpMethod.Post, "/v1/completions", request.Replace("}", ""","stream":true}"""));

        var ids = first["choices"]![0]!["token_ids"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
        Assert.InRange(ids.Length, 1, 12);
        Assert.Equal(ids, second["choices"]![0]!["token_ids"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType!.MediaType);
        var lines = (await streamed.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", lines[^1]);
        var streamedIds = lines[..^1].Select(l => JsonNode.Parse(l["data: ".Length..])!["choices"]![0]!["token_ids"]![0]!.GetValue<int>()).ToArray();
        Assert.Equal(ids, streamedIds);
    }

    [Fact]
    public async Task HttpApi_ChatCompletions_AnswersAndStreams()
    {
        const string request = """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"seed":1}""";
        var answer = await SendAsync(HttpMethod.Post, "/v1/chat/completions", request);
        var streamed = await SendAsync(HttpMethod.Post, "/v1/chat/completions",
            """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"seed":1,"stream":true}""");

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("chat.completion", (await JsonAsync(answer))["object"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.EndsWith("data: [DONE]\n\n", await streamed.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/v1/completions", """{"model":"nope","prompt":"a"}""", 404, "not served")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","max_tokens":-1}""", 400, "max_tokens")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","max_tokens":101}""", 400, "at most 100")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}""", 400, "at most 64")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":[1,2,300]}""", 400, "outside the vocabulary")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":[1,-5]}""", 400, "outside the vocabulary")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a",""", 400, "not valid JSON")]
    [InlineData("/v1/completions", """{"model":"tiny","max_tokens":"many","prompt":"a"}""", 400, "not valid JSON")]
    [InlineData("/v1/completions", """{"model":"tiny"}""", 400, "prompt is required")]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"a","temperature":-1}""", 400, "temperature")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[]}""", 400, "messages")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"robot","content":"x"}]}""", 400, "role")]
    [InlineData("/v1/sessions", """{"model":"nope"}""", 404, "not served")]
    public async Task HttpApi_BadRequest_Gets4xxWithAMessage(string path, string body, int status, string fragment)
    {
        var response = await SendAsync(HttpMethod.Post, path, body);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(fragment, (await JsonAsync(response))["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task HttpApi_Sessions_CreateContinueGetDeleteOnlyForTheOwner()
    {
        var created = await SendAsync(HttpMethod.Post, "/v1/sessions", """{"model":"tiny","temperature":0.7,"seed":3}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        string id = (await JsonAsync(created))["id"]!.GetValue<string>();

        var first = await JsonAsync(await SendAsync(HttpMethod.Post, $"/v1/sessions/{id}/messages", """{"content":"Hello","max_tokens":4}"""));
        var second = await SendAsync(HttpMethod.Post, $"/v1/sessions/{id}/messages", """{"tokens":[65,66],"max_tokens":3,"stream":true}""");
        var info = await JsonAsync(await SendAsync(HttpMethod.Get, $"/v1/sessions/{id}"));

        Assert.InRange(first["tokens"]!.AsArray().Count, 1, 4);
        Assert.EndsWith("data: [DONE]\n\n", await second.Content.ReadAsStringAsync());
        Assert.Equal(2, info["turns"]!.GetValue<int>());
        Assert.Contains(id, await (await SendAsync(HttpMethod.Get, "/v1/sessions")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Get, $"/v1/sessions/{id}", key: KeyB)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Post, $"/v1/sessions/{id}/messages", """{"content":"x"}""", key: KeyB)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, $"/v1/sessions/{id}", key: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Get, $"/v1/sessions/{id}", key: "wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Delete, $"/v1/sessions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/v1/sessions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Post, "/v1/sessions/missing/messages", """{"content":"x"}""")).StatusCode);
    }
}
