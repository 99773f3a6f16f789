using System.Text.Json.Nodes;

namespace MatMulFree.Cli.Tests;

/// <summary><c>mmf chat</c> against a server that records the session it is asked to create.</summary>
public sealed class ChatCommandTests
{
    [Fact]
    public async Task Chat_NoSeed_LetsTheServerDrawOneAndPrintsIt()
    {
        var (created, r) = await CreateSessionAsync();
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Null(created["seed"]);
        Assert.Contains("seed 424242", r.Stdout);
    }

    [Fact]
    public async Task Chat_Seed_IsSentAsGiven()
    {
        var (created, r) = await CreateSessionAsync("--seed", "7");
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Equal(7UL, created["seed"]!.GetValue<ulong>());
    }

    /// <summary>Runs chat (standard input empty, so it ends after creating the session) against a one-request server.</summary>
    private static async Task<(JsonNode Created, Mmf.Result Result)> CreateSessionAsync(params string[] flags)
    {
        using var server = new OneRequestServer(201, """{"id":"sess-1","model":"tiny","sampling":{"seed":424242}}""");
        Mmf.Result r = await Mmf.RunAsync(["chat", "--url", server.Url, "--model", "tiny", .. flags]);
        var (path, body) = await server.RequestAsync();
        Assert.Equal("/v1/sessions", path);
        return (JsonNode.Parse(body)!, r);
    }
}
