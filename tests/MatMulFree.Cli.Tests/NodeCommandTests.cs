using System.Diagnostics;
using System.Text.Json;
using MatMulFree.Core;
using MatMulFree.Node.Protocol;
using MatMulFree.Serving;
using static MatMulFree.Testing.GracefulStop;
using static MatMulFree.Testing.NodeProcessProbe;

namespace MatMulFree.Cli.Tests;

/// <summary><c>mmf node</c> as a process: it says where it listens, serves a remote device bit-identically to the engine in-process, and stops on SIGTERM.</summary>
public sealed class NodeCommandTests
{
    private const string TinyModel = "tests/data/models/tiny";

    [Fact]
    public async Task Node_StartDecodeAndStop_MatchesTheCpuDeviceInProcess()
    {
        int port = LoopbackPorts.Free(1)[0];
        using Process node = Start("node", "--device", "cpu", "--model", TinyModel, "--port", $"{port}", "--token", "t0ken", "--max-batch", "4", "--max-sessions", "8");
        try
        {
            string line = await ReadReadyLineAsync(node, "mmf node");
            Assert.Contains($"http://127.0.0.1:{port}", line);

            using var remote = await RemoteDevice.ConnectAsync(new Uri($"http://127.0.0.1:{port}"), new RemoteDeviceOptions("t0ken"));
            Assert.Equal(new DeviceCapacity(4, 8), remote.Capacity);
            using var local = new CpuDevice(threads: 1, maxBatch: 4, maxSessions: 8);
            await local.LoadAsync(ModelSource.Folder(Path.Combine(Mmf.RepoRoot, TinyModel)));
            Assert.Equal(local.Model, remote.Model);

            Assert.Equal(Converse(local), Converse(remote));
            await Assert.ThrowsAsync<DeviceUnavailableException>(() => RemoteDevice.ConnectAsync(new Uri($"http://127.0.0.1:{port}"), new RemoteDeviceOptions("wrong")));
        }
        finally
        {
            await StopAsync(node);
        }
        Assert.Equal(0, node.ExitCode);
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("small")]
    [InlineData("long")]
    [InlineData("bf16")]
    public async Task Score_ThroughANode_GivesTheCpuEnginesLossToTheLastBit(string set)
    {
        int port = LoopbackPorts.Free(1)[0];
        using Process node = Start("node", "--model", $"tests/data/models/{set}", "--port", $"{port}", "--token", "t0ken");
        try
        {
            await ReadReadyLineAsync(node, "mmf node");
            string[] score = ["score", "--model", $"tests/data/models/{set}", "--input", $"tests/data/golden/{set}.golden.safetensors", "--json"];
            var local = await Mmf.RunAsync([.. score, "--engine", "cpu"]);
            var remote = await Mmf.RunAsync(new Dictionary<string, string?> { ["MMF_NODE_TOKEN"] = "t0ken" }, [.. score, "--node", $"http://127.0.0.1:{port}"]);
            Assert.True(local.ExitCode == 0, local.Output);
            Assert.True(remote.ExitCode == 0, remote.Output);
            using var localJson = JsonDocument.Parse(local.Stdout);
            using var remoteJson = JsonDocument.Parse(remote.Stdout);
            Assert.Equal(localJson.RootElement.GetProperty("loss").GetDouble(), remoteJson.RootElement.GetProperty("loss").GetDouble());
            Assert.Equal(localJson.RootElement.GetProperty("tokens").GetInt64(), remoteJson.RootElement.GetProperty("tokens").GetInt64());
            Assert.Equal("node", remoteJson.RootElement.GetProperty("engine").GetString());
        }
        finally
        {
            await StopAsync(node);
        }
    }

    [Theory]
    [InlineData("--node localhost:5701", "--node must be an http:// URL")]
    [InlineData("--node http://127.0.0.1:5701 --engine cpu", "--node and --engine exclude each other")]
    public async Task Score_BadNodeFlag_OneErrorLineExitTwo(string args, string expected)
    {
        var r = await Mmf.RunAsync(["score", "--model", TinyModel, "--input", "tests/data/golden/tiny.golden.safetensors", .. args.Split(' ')]);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("error:", r.Output.Trim());
        Assert.Contains(expected, r.Output);
    }

    [Fact]
    public async Task Score_NodeNotListening_OneErrorLineNamingIt()
    {
        string url = $"http://127.0.0.1:{LoopbackPorts.Free(1)[0]}";
        var r = await Mmf.RunAsync("score", "--model", TinyModel, "--input", "tests/data/golden/tiny.golden.safetensors", "--node", url);
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.Output.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains(url, r.Output);
        Assert.DoesNotContain("   at ", r.Output);
    }

    [Fact]
    public async Task Score_NodeOfAnotherVocabulary_OneErrorLine()
    {
        int port = LoopbackPorts.Free(1)[0];
        using Process node = Start("node", "--model", "tests/data/models/small", "--port", $"{port}");
        try
        {
            await ReadReadyLineAsync(node, "mmf node");
            var r = await Mmf.RunAsync("score", "--model", TinyModel, "--input", "tests/data/golden/tiny.golden.safetensors", "--node", $"http://127.0.0.1:{port}");
            Assert.Equal(2, r.ExitCode);
            // The folder's tokenizer notice comes first: one line, then the error.
            Assert.Contains("vocabulary 512", Assert.Single(r.Output.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal)));
        }
        finally
        {
            await StopAsync(node);
        }
    }

    [Fact]
    public async Task Node_PortInUse_OneErrorLine()
    {
        using var occupant = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((System.Net.IPEndPoint)occupant.LocalEndpoint).Port;
        var r = await Mmf.RunAsync("node", "--model", TinyModel, "--port", $"{port}");
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.Output.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains($"port {port}", r.Output);
        Assert.DoesNotContain("   at ", r.Output);
    }

    [Theory]
    [InlineData("--device gpu --model tests/data/models/tiny --port 5000", "--device must be cpu")]
    [InlineData("--port 5000", "--model is required")]
    [InlineData("--model tests/data/models/tiny", "--port is required")]
    [InlineData("--model tests/data/models/tiny --port 70000", "--port must be in 1..65535")]
    [InlineData("--model tests/data/models/tiny --port abc", "--port must be a whole number, got 'abc'")]
    [InlineData("--model tests/data/golden --port 5000", "tests/data/golden/config.json: config file not found")]
    [InlineData("--model tests/data/models/tiny --port 5000 --token ''", "--token must not be empty")]
    [InlineData("--model tests/data/models/nope --port 5000", "tests/data/models/nope: model folder not found")]
    [InlineData("--model tests/data/models/tiny --port 5000 --host 0.0.0.0", "--host 0.0.0.0 without --token")]
    [InlineData("--model tests/data/models/tiny --port 5000 --max-batch 8 --max-sessions 4", "--max-sessions must be at least --max-batch (8)")]
    public async Task Node_BadInput_OneErrorLineExitTwo(string args, string expected)
    {
        // '' stands for an empty argument.
        var r = await Mmf.RunAsync(["node", .. args.Split(' ').Select(a => a == "''" ? "" : a)]);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("error:", r.Output.Trim());
        Assert.Contains(expected, r.Output);
        Assert.DoesNotContain("   at ", r.Output);
    }


    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Mmf.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mmf.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["COLUMNS"] = "400";
        return Process.Start(start)!;
    }
}
