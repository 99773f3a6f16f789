using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MatMulFree.Core;
using MatMulFree.Node.Protocol;
using static MatMulFree.Testing.GracefulStop;

namespace MatMulFree.Cli.Tests;

/// <summary>`mmf serve --node URL --no-local` in front of a real `mmf node` process: the node computes, and the text is what `mmf serve` alone gives.</summary>
public sealed class ServeThroughNodeTests
{
    private const string TinyModel = "tests/data/models/tiny";
    private const string Request = """{"model":"tiny","prompt":"Hello there","max_tokens":24,"temperature":0.8,"seed":7}""";

    [Fact]
    public async Task Serve_NoLocalThroughANodeProcess_GivesTheTextOfServeAlone()
    {
        string alone = await CompleteAsync([]);

        int nodePort = LoopbackPorts.Free(1)[0];
        var nodeUrl = new Uri($"http://127.0.0.1:{nodePort}");
        using Process node = Start(["node", "--device", "cpu", "--model", TinyModel, "--port", $"{nodePort}", "--token", "t0ken"]);
        string through;
        long before, after;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            string? ready = await node.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.True(ready is not null && ready.StartsWith("node listening on", StringComparison.Ordinal), $"mmf node printed '{ready}'");
            using var probe = await RemoteDevice.ConnectAsync(nodeUrl, new RemoteDeviceOptions("t0ken"));
            before = probe.Counters.Tokens;
            through = await CompleteAsync(["--node", nodeUrl.ToString(), "--node-token", "t0ken", "--no-local"]);
            after = probe.Counters.Tokens;
        }
        finally
        {
            await StopAsync(node);
        }

        Assert.False(string.IsNullOrEmpty(alone), "serve alone gave no text");
        Assert.Equal(alone, through);
        Assert.True(after > before, $"the node's token counter did not move ({before} -> {after})");
    }

    private static async Task<string> CompleteAsync(string[] flags)
    {
        int port = LoopbackPorts.Free(1)[0];
        using Process serve = Start(["serve", "--model", TinyModel, "--port", $"{port}", .. flags]);
        Task<string> stderr = serve.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            var started = Stopwatch.StartNew();
            while (true)
            {
                Assert.False(serve.HasExited, $"mmf serve {string.Join(' ', flags)} exited: {(serve.HasExited ? await stderr : "")}");
                try
                {
                    using var health = await http.GetAsync("/healthz");
                    if (health.IsSuccessStatusCode)
                        break;
                }
                catch (HttpRequestException) { }
                if (started.Elapsed > TimeSpan.FromMinutes(2))
                    throw new TimeoutException("mmf serve did not answer /healthz within 2 minutes");
                await Task.Delay(200);
            }
            using var reply = await http.PostAsync("/v1/completions", new StringContent(Request, Encoding.UTF8, "application/json"));
            string body = await reply.Content.ReadAsStringAsync();
            Assert.True(reply.IsSuccessStatusCode, body);
            using var json = JsonDocument.Parse(body);
            return json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }
        finally
        {
            await StopAsync(serve);
        }
    }

    private static Process Start(string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Mmf.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mmf.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        return Process.Start(start)!;
    }
}
