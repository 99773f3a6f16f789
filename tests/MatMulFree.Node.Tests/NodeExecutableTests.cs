using System.Diagnostics;
using MatMulFree.Core;
using MatMulFree.Node.Protocol;
using MatMulFree.Serving;
using MatMulFree.Serving.Library.Tests;
using static MatMulFree.Testing.GracefulStop;
using static MatMulFree.Testing.NodeProcessProbe;

namespace MatMulFree.Node.Tests;

/// <summary>
/// <c>mmf-node</c> as a process: it serves a remote device bit-identically to the CPU device in
/// process, and what it maps is free of Orleans and TorchSharp (the assemblies' references could
/// say so while a transitive load still dragged them in; the process's maps cannot).
/// </summary>
public sealed class NodeExecutableTests
{

    [Fact]
    public async Task NodeExecutable_StartDecodeAndStop_MapsNoOrleansOrTorchSharp()
    {
        int port = LoopbackPorts.Free(1)[0];
        using Process node = Start("--model", TinyModel.Directory, "--port", $"{port}", "--token", "t0ken", "--max-batch", "4", "--max-sessions", "8");
        string maps;
        try
        {
            string line = await ReadReadyLineAsync(node, "mmf-node");
            Assert.StartsWith($"node listening on http://127.0.0.1:{port}", line, StringComparison.Ordinal);

            using var remote = await RemoteDevice.ConnectAsync(new Uri($"http://127.0.0.1:{port}"), new RemoteDeviceOptions("t0ken"));
            Assert.Equal(new DeviceCapacity(4, 8), remote.Capacity);
            using var local = new CpuDevice(threads: 1, maxBatch: 4, maxSessions: 8);
            await local.LoadAsync(ModelSource.Folder(TinyModel.Directory));
            Assert.Equal(Converse(local), Converse(remote));
            maps = await File.ReadAllTextAsync($"/proc/{node.Id}/maps");
        }
        finally
        {
            await StopAsync(node);
        }
        Assert.Equal(0, node.ExitCode);

        var mapped = maps.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length >= 6).Select(f => Path.GetFileName(f[5])).ToHashSet();
        // The control: the maps do list the managed assemblies the node runs, so an absence below means something.
        Assert.Contains("MatMulFree.Node.dll", mapped);
        Assert.Contains("Grpc.AspNetCore.Server.dll", mapped);
        var forbidden = mapped.Where(f => f.StartsWith("Orleans", StringComparison.OrdinalIgnoreCase) || f.StartsWith("Microsoft.Orleans", StringComparison.OrdinalIgnoreCase)
            || f.Contains("TorchSharp", StringComparison.OrdinalIgnoreCase) || f.Contains("libtorch", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(forbidden.Count == 0, $"mmf-node mapped {string.Join(", ", forbidden)}");
    }

    [Fact]
    public async Task NodeExecutable_UnknownFlag_OneErrorLineExitTwo()
    {
        using Process node = Start("--model", TinyModel.Directory, "--prot", "5000");
        string stderr = await node.StandardError.ReadToEndAsync();
        string stdout = await node.StandardOutput.ReadToEndAsync();
        await node.WaitForExitAsync();
        Assert.Equal(2, node.ExitCode);
        Assert.Equal("", stdout);
        Assert.Equal("error: unknown flag --prot for `mmf-node`; did you mean --port?", stderr.Trim());
    }

    [Fact]
    public async Task NodeExecutable_PortInUse_OneErrorLineExitTwo()
    {
        using var occupant = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((System.Net.IPEndPoint)occupant.LocalEndpoint).Port;
        using Process node = Start("--model", TinyModel.Directory, "--port", $"{port}");
        string stderr = await node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        Assert.Equal(2, node.ExitCode);
        string error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: port {port}", error, StringComparison.Ordinal);
    }


    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mmf-node.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        return Process.Start(start)!;
    }
}
