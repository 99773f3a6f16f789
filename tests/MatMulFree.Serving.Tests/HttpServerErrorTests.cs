using System.Net;
using System.Threading.Channels;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Silo;
using Microsoft.Extensions.DependencyInjection;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// A backend that fails the way a dying device or silo does: once it is excluded, the router's
/// error describes the cluster (registry, silos asked). The client gets a 5xx with a request id and
/// a generic message, never the exception; the server's log has the exception under that id.
/// </summary>
public sealed class HttpServerErrorTests : HttpSiloTest
{
    private const string Internals = "socket 10.1.2.3:11111 reset";

    protected override SiloSettings Settings()
    {
        var settings = base.Settings();
        var capabilities = new BackendCapabilities("tiny", "0", 256, 4, 4, "cpu", 1);
        return new SiloSettings
        {
            Models = settings.Models, Limits = settings.Limits, EngineThreads = 1, MaxPromptTokens = 64, MaxNewTokens = 100,
            ConfigureSilo = [silo => silo.Services.AddSingleton(new LocalBackends([new FailingBackend(capabilities)]))],
        };
    }

    [Theory]
    [InlineData("/v1/completions", """{"model":"tiny","prompt":"Hello","max_tokens":4}""")]
    [InlineData("/v1/chat/completions", """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":4}""")]
    public async Task HttpApi_BackendFails_503CarriesARequestIdAndNoInternals(string path, string json)
    {
        var response = await PostAsync(path, json);
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        string id = Assert.Single(response.Headers.GetValues("x-request-id"));
        var error = (await JsonAsync(response))["error"]!;
        Assert.Equal(id, error["request_id"]!.GetValue<string>());
        Assert.Contains(id, error["message"]!.GetValue<string>());
        Assert.DoesNotContain("registry", text);
        Assert.DoesNotContain("Orleans", text);
        Assert.DoesNotContain(" at ", text);
        Assert.Contains("RouterGrain.PickAsync", Assert.Single(Log.Entries, e => e.Contains(id)));
    }

    [Fact]
    public async Task HttpApi_BackendFailsMidStream_ErrorEventCarriesARequestIdAndNoInternals()
    {
        var response = await PostAsync("/v1/completions", """{"model":"tiny","prompt":"Hello","max_tokens":4,"stream":true}""");
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string id = Assert.Single(response.Headers.GetValues("x-request-id"));
        Assert.Contains($"\"request_id\":\"{id}\"", text);
        Assert.DoesNotContain("registry", text);
        Assert.Contains("RouterGrain.PickAsync", Assert.Single(Log.Entries, e => e.Contains(id)));
    }

    [Fact]
    public async Task HttpApi_BadRequest_CarriesARequestIdToo()
    {
        var response = await PostAsync("/v1/completions", """{"model":"tiny","prompt":"a","max_tokens":-1}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Single(response.Headers.GetValues("x-request-id"));
        Assert.Contains("max_tokens", ErrorMessage(await JsonAsync(response)));
    }

    /// <summary>Streams one token of every turn, then fails with an exception whose text must stay inside the server.</summary>
    private sealed class FailingBackend(BackendCapabilities capabilities) : IComputeBackend
    {
        public BackendCapabilities Capabilities { get; } = capabilities;
        public int Active => 0;
        public int Queued => 0;

        public ChannelReader<BackendEvent> Submit(BackendTurn turn, CancellationToken cancellationToken)
        {
            var events = Channel.CreateUnbounded<BackendEvent>();
            events.Writer.TryWrite(new BackendEvent(65, null));
            events.Writer.TryComplete(new InvalidOperationException(Internals));
            return events.Reader;
        }

        public void Dispose() { }
    }
}
