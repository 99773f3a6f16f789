using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MatMulFree.Grains.Serving;
using MatMulFree.Silo;

namespace MatMulFree.Serving.Tests;

/// <summary>Who may reach what on a server with API keys: /metrics behind the key, loopback servers only under loopback names, owner ids that reveal nothing of the key.</summary>
public sealed class HttpAccessTests : IAsyncLifetime
{
    internal const string KeyA = "key-alpha", KeyB = "key-beta";
    private HttpSilo _silo = null!;

    public async Task InitializeAsync() => _silo = await StartAsync(storage: null);

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    internal static Task<HttpSilo> StartAsync(string? storage)
    {
        var tiny = TestModels.TinySettings(storage: storage);
        return HttpSilo.StartAsync(new SiloSettings
        {
            Models = tiny.Models, Limits = tiny.Limits, EngineThreads = 1, ApiKeys = [KeyA, KeyB], StorageConnectionString = storage,
        });
    }

    internal static async Task<HttpResponseMessage> SendAsync(HttpSilo silo, HttpMethod method, string path, string? key = KeyA, string? json = null, string? host = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (key is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (host is not null)
            request.Headers.Host = host;
        return await silo.Client.SendAsync(request);
    }

    /// <summary>The owner id of the first implementation: a plain hash, the same on every server.</summary>
    internal static string UnkeyedOwnerOf(string key) => "key-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("wrong", HttpStatusCode.Unauthorized)]
    [InlineData(KeyB, HttpStatusCode.OK)]
    public async Task HttpAccess_Metrics_WithKeysConfigured_NeedsAValidKey(string? key, HttpStatusCode expected)
    {
        var response = await SendAsync(_silo, HttpMethod.Get, "/metrics", key);

        Assert.Equal(expected, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        if (expected == HttpStatusCode.OK)
            Assert.Contains("# TYPE", body);
        else
            Assert.Contains("API key", JsonNode.Parse(body)!["error"]!["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("evil.example", HttpStatusCode.BadRequest)]
    [InlineData("evil.example:8080", HttpStatusCode.BadRequest)]
    [InlineData("127.0.0.1.evil.example", HttpStatusCode.BadRequest)]
    [InlineData("localhost", HttpStatusCode.OK)]
    [InlineData("localhost:8080", HttpStatusCode.OK)]
    [InlineData("127.0.0.1:1", HttpStatusCode.OK)]
    [InlineData("[::1]:8080", HttpStatusCode.OK)]
    public async Task HttpAccess_HostHeader_OnALoopbackServer_OnlyLoopbackNamesAreServed(string host, HttpStatusCode expected)
    {
        // A page on evil.example whose name was rebound to 127.0.0.1 sends its own name as Host.
        Assert.Equal(expected, (await SendAsync(_silo, HttpMethod.Get, "/v1/models", host: host)).StatusCode);
        Assert.Equal(expected, (await SendAsync(_silo, HttpMethod.Get, "/healthz", key: null, host: host)).StatusCode);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", true)]
    [InlineData("http://localhost:8080", true)]
    [InlineData("http://[::1]:8080", true)]
    [InlineData("http://127.0.0.1:8080;http://[::1]:8080", true)]
    [InlineData("http://0.0.0.0:8080", false)]
    [InlineData("http://*:8080", false)]
    [InlineData("http://+:8080", false)]
    [InlineData("http://10.1.2.3:8080", false)]
    [InlineData("http://127.0.0.1:8080;http://0.0.0.0:8081", false)]
    public void LoopbackHosts_OnlyLoopback_WildcardsAndOtherAddressesAreNot(string urls, bool loopback) =>
        Assert.Equal(loopback, Silo.Http.LoopbackHosts.OnlyLoopback(urls));

    [Fact]
    public async Task HttpAccess_Session_OwnerIsAKeyedHashThatIsNeverShown()
    {
        var created = await SendAsync(_silo, HttpMethod.Post, "/v1/sessions", json: """{"model":"tiny"}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var shown = JsonNode.Parse(await created.Content.ReadAsStringAsync())!.AsObject();
        string id = shown["id"]!.GetValue<string>();
        var got = JsonNode.Parse(await (await SendAsync(_silo, HttpMethod.Get, $"/v1/sessions/{id}")).Content.ReadAsStringAsync())!.AsObject();
        string listed = await (await SendAsync(_silo, HttpMethod.Get, "/v1/sessions")).Content.ReadAsStringAsync();
        var stored = await _silo.Grains.GetGrain<ISessionGrain>(id).GetAsync();

        Assert.False(shown.ContainsKey("owner"), shown.ToJsonString());
        Assert.False(got.ContainsKey("owner"), got.ToJsonString());
        Assert.DoesNotContain("owner", listed);
        Assert.NotEqual(UnkeyedOwnerOf(KeyA), stored!.Owner);
        Assert.DoesNotContain(UnkeyedOwnerOf(KeyA)["key-".Length..], stored.Owner);
    }
}
