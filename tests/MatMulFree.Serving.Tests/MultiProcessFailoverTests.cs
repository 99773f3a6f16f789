using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MatMulFree.Grains.Serving;
using MatMulFree.Testing;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// Determinism across a crash: three silo processes on loopback share Azurite for membership and
/// session state; the silo holding sessions is SIGKILLed between turns; the conversations continue
/// on the other and produce exactly the tokens the engine produces running each session alone.
/// </summary>
[Collection(AzuriteFixture.ExclusiveCollection)]
public sealed class MultiProcessFailoverTests(AzuriteFixture azurite)
{
    private static readonly int[][] Turn1 = [[1, 72, 101, 108], [1, 87, 111], [1, 65, 66, 67], [1, 90]];
    private static readonly int[] Turn2 = [32, 111, 107];

    [Fact]
    public async Task SessionGrain_TurnAsync_SameTokensAfterTheSiloHoldingTheSessionIsKilled()
    {
        string cluster = $"failover-{Guid.NewGuid():N}"[..24];
        await using var a = await SiloProcess.StartAsync(azurite.ConnectionString, cluster, ServingSilo);
        await using var b = await SiloProcess.StartAsync(azurite.ConnectionString, cluster, ServingSilo);
        // A third silo keeps probing the survivor: with only two, the survivor hears from nobody after
        // the crash, counts its own health as degraded and does not vote the dead silo out (seen here, ~1 run in 3).
        await using var c = await SiloProcess.StartAsync(azurite.ConnectionString, cluster, ServingSilo);
        using var engine = TestModels.TinyEngine(out var model);
        using var _ = model;

        // Sessions are placed at random: create them until at least one lives on the silo we will kill.
        var sessions = new List<(string Id, SamplingSettings Sampling, int[] Message, int[] First)>();
        for (int i = 0; i < 16 && (sessions.Count < Turn1.Length || !await AnyOnAsync(a, sessions.Select(s => s.Id), a.SiloPort)); i++)
        {
            var sampling = new SamplingSettings(0.8f, 0, 1f, (ulong)(100 + i));
            var created = await a.Client.PostAsJsonAsync("/v1/sessions", new { model = "tiny", temperature = sampling.Temperature, seed = sampling.Seed });
            string id = (await JsonAsync(created))["id"]!.GetValue<string>();
            var message = Turn1[i % Turn1.Length];
            sessions.Add((id, sampling, message, await TurnAsync(a.Client, id, message, 10)));
        }
        Assert.True(await AnyOnAsync(a, sessions.Select(s => s.Id), a.SiloPort), "no session was placed on the silo to kill");

        a.Kill();
        foreach (var (id, sampling, message, first) in sessions)
        {
            var second = await TurnAsync(b.Client, id, Turn2, 8, retryFor: TimeSpan.FromSeconds(60), diagnose: b);
            var alone = TestModels.RunAlone(engine, sampling, [(message, 10), (Turn2, 8)]);
            Assert.Equal(alone[0], first);
            Assert.Equal(alone[1], second);
        }
    }

    // The tiny model on one engine thread; a killed silo declared dead within seconds rather than
    // the production default. With two silos left, the survivor of a crash gets no probes and
    // counts itself unhealthy, so it does not vote: a stale "I am alive" row in the table declares
    // the dead one instead.
    private static string[] ServingSilo => [
        "--Models", TestModels.TinyDirectory, "--EngineThreads", "1",
        "--Membership:ProbeTimeout", "00:00:01", "--Membership:NumMissedProbesLimit", "2", "--Membership:NumVotesForDeathDeclaration", "1",
        "--Membership:IAmAliveTablePublishTimeout", "00:00:02", "--Membership:NumMissedTableIAmAliveLimit", "2",
        "--Logging:LogLevel:Orleans.Runtime.MembershipService", "Information",
    ];

    private static async Task<bool> AnyOnAsync(SiloProcess via, IEnumerable<string> ids, int siloPort)
    {
        foreach (string id in ids)
        {
            var info = await JsonAsync(await via.Client.GetAsync($"/v1/sessions/{id}"));
            if (info["silo"]!.GetValue<string>().Contains($":{siloPort}@", StringComparison.Ordinal))
                return true;
        }
        return false;
    }

    /// <summary>One turn by token ids; 503s while the cluster notices the dead silo are retried (a failed turn changes nothing).</summary>
    private static async Task<int[]> TurnAsync(HttpClient client, string id, int[] tokens, int maxTokens, TimeSpan retryFor = default, SiloProcess? diagnose = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            HttpResponseMessage response;
            try
            {
                response = await client.PostAsJsonAsync($"/v1/sessions/{id}/messages", new { tokens, max_tokens = maxTokens });
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && clock.Elapsed < retryFor)
            {
                continue;
            }
            if (response.IsSuccessStatusCode)
                return (await JsonAsync(response))["tokens"]!.AsArray().Select(t => t!.GetValue<int>()).ToArray();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || clock.Elapsed > retryFor)
                Assert.Fail($"session {id}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}; silo log: {diagnose?.LogFile}");
            await Task.Delay(500);
        }
    }

    private static async Task<JsonNode> JsonAsync(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
}
