using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace MatMulFree.Cli.Tests;

/// <summary>A short training run in a folder store; what it prints at the end, and its checkpoint served as a model.</summary>
public sealed class TrainAndServeRunTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"mmf-train-run-{Guid.NewGuid():N}");

    private readonly string _run = $"t-{Guid.NewGuid():N}";

    private string Store => Path.Combine(_root, "store");

    // Pulled checkpoints are cached in the user's cache directory: this test's own.
    private Dictionary<string, string?> Cache => new() { ["XDG_CACHE_HOME"] = Path.Combine(_root, "cache") };

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Train_EndOfRun_PrintsWhereItsLatestCheckpointIs()
    {
        Mmf.Result train = await TrainAsync();
        string checkpoint = Path.Combine(Store, "runs", _run, "checkpoints", "2");
        Assert.Contains($"latest checkpoint: file://{checkpoint}", train.Stdout);
        Assert.True(File.Exists(Path.Combine(checkpoint, "config.json")), checkpoint);
    }

    [Fact]
    public async Task BenchServe_RunOfAStore_ServesItsCheckpoint()
    {
        await TrainAsync();
        // The run, by its store URI (latest checkpoint) and by an explicit checkpoint.
        foreach (string source in new[] { $"file://{Store}/runs/{_run}", $"file://{Store}/runs/{_run}/checkpoints/2" })
        {
            Mmf.Result serve = await Mmf.RunAsync(Cache, "bench", "serve", "--model", source, "--sessions", "1", "--tokens", "2", "--seconds", "0.1", "--json");
            Assert.True(serve.ExitCode == 0, $"{source}: {serve.Output}");
            using JsonDocument json = JsonDocument.Parse(serve.Stdout);
            Assert.Equal(_run, json.RootElement.GetProperty("model").GetString());
            Assert.Equal(0, json.RootElement.GetProperty("errors").GetInt32());
        }
    }

    [Fact]
    public async Task Serve_RunPathInsideStore_LoadsItsCheckpoint()
    {
        await TrainAsync();
        // The HTTP port is taken, so serve stops right after loading its models: a port error means the run loaded.
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        Mmf.Result loaded = await Mmf.RunAsync(Cache, "serve", "--model", $"runs/{_run}", "--store", Store, "--port", $"{port}");
        Assert.True(loaded.ExitCode == 2, loaded.Output);
        Assert.Contains($"error: port {port} on 127.0.0.1 is already in use", loaded.Output);

        Mmf.Result missing = await Mmf.RunAsync(Cache, "serve", "--model", "runs/no-such-run", "--store", Store, "--port", $"{port}");
        Assert.True(missing.ExitCode == 2, missing.Output);
        Assert.Contains("run 'no-such-run' has no latest checkpoint", missing.Output);
    }

    [Fact]
    public async Task RunsShow_RunInTheStore_ReportsItsStepOutOfItsTotal()
    {
        await TrainAsync();
        Mmf.Result json = await Mmf.RunAsync("runs", "show", _run, "--store", Store, "--json");
        Assert.True(json.ExitCode == 0, json.Output);
        using (JsonDocument doc = JsonDocument.Parse(json.Stdout))
        {
            Assert.Equal("completed", doc.RootElement.GetProperty("status").GetString());
            Assert.Equal(2, doc.RootElement.GetProperty("step").GetInt64());
            Assert.Equal(2, doc.RootElement.GetProperty("total_steps").GetInt64());
        }
        Mmf.Result text = await Mmf.RunAsync("runs", "show", _run, "--store", Store);
        Assert.True(text.ExitCode == 0, text.Output);
        Assert.Contains($"run {_run}: completed, step 2 of 2, latest checkpoint 2", text.Stdout);
    }

    private async Task<Mmf.Result> TrainAsync()
    {
        string text = Path.Combine(_root, "corpus.txt");
        Directory.CreateDirectory(_root);
        await File.WriteAllTextAsync(text, string.Concat(Enumerable.Repeat("Ternary weights need only additions. ", 200)));
        Mmf.Result prepare = await Mmf.RunAsync("data", "prepare", "--input", text, "--store", Store, "--out", "data/t");
        Assert.True(prepare.ExitCode == 0, prepare.Output);
        Mmf.Result train = await Mmf.RunAsync("train", "--model-config", "tiny", "--data", "data/t", "--store", Store,
            "--steps", "2", "--batch", "1", "--seq", "16", "--checkpoint-every", "2", "--run", _run);
        Assert.True(train.ExitCode == 0, train.Output);
        return train;
    }
}
