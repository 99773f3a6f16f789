using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using MatMulFree.Core;

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
        int port = LoopbackPorts.Free(1)[0];
        using var server = new HttpListener();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        var serving = Task.Run(async () =>
        {
            var context = await server.GetContextAsync();
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = JsonNode.Parse(await reader.ReadToEndAsync())!;
            byte[] answer = Encoding.UTF8.GetBytes("""{"id":"sess-1","model":"tiny","sampling":{"seed":424242}}""");
            context.Response.StatusCode = 201;
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(answer);
            context.Response.Close();
            return (context.Request.Url!.AbsolutePath, body);
        });

        Mmf.Result r = await Mmf.RunAsync(["chat", "--url", $"http://127.0.0.1:{port}", "--model", "tiny", .. flags]);
        var (path, created) = await serving.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal("/v1/sessions", path);
        return (created, r);
    }
}
