using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using MatMulFree.Grains.Serving;
using MatMulFree.Silo;

namespace MatMulFree.Serving.Tests;

/// <summary>A full backend refuses new turns at once with a retryable error: HTTP 429 with Retry-After, not a growing wait.</summary>
public sealed class BackpressureTests
{
    [Fact]
    public async Task HttpApi_Completions_FullBackendAnswers429WithRetryAfter()
    {
        var tiny = TestModels.TinySettings();
        await using var silo = await HttpSilo.StartAsync(new SiloSettings { Models = tiny.Models, EngineThreads = 1, Limits = new(MaxBatch: 1, MaxQueue: 0) });
        var hog = silo.Grains.GetGrain<ISessionGrain>("hog");
        await hog.CreateAsync(new SessionSpec("tiny", Silo.Http.ApiCaller.Anonymous, SamplingSettings.Greedy));
        using var stop = new CancellationTokenSource();
        await using var running = hog.TurnAsync(new TurnInput([1, 65], 100_000_000, StopAtEos: false), stop.Token).GetAsyncEnumerator(stop.Token);
        Assert.True(await running.MoveNextAsync()); // the only batch slot is taken, and nothing may wait

        var refused = await silo.Client.PostAsync("/v1/completions",
            new StringContent("""{"model":"tiny","prompt":"a","max_tokens":2}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Contains("full", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!["message"]!.GetValue<string>());
        stop.Cancel();
    }
}
