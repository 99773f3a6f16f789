using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MatMulFree.Core;
using static MatMulFree.Testing.GracefulStop;

namespace MatMulFree.Cli.Tests;

/// <summary>`mmf serve` as a user runs it: the real binary in the background, stopped with SIGTERM as Ctrl+C or a service manager would; and when it cannot start.</summary>
public sealed class ServeCommandTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Serve_StartAnswerAndStop_LogsNoWarnings()
    {
        int port = LoopbackPorts.Free(1)[0];
        using Process serve = Start("serve", "--model", "tests/data/models/tiny", "--port", $"{port}");
        Task<string> stdout = serve.StandardOutput.ReadToEndAsync();
        Task<string> stderr = serve.StandardError.ReadToEndAsync();
        HttpStatusCode answered;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            await WaitUntilHealthyAsync(http, serve);
            using var completion = await http.PostAsync("/v1/completions",
                new StringContent("""{"model":"tiny","prompt":"Hello","max_tokens":4,"seed":1}""", Encoding.UTF8, "application/json"));
            answered = completion.StatusCode;
        }
        finally
        {
            await StopAsync(serve);
        }
        string log = await stderr, output = await stdout + log;

        Assert.Equal(HttpStatusCode.OK, answered);
        Assert.True(serve.ExitCode == 0, output);
        string[] complaints = log.Split('\n').Where(l => l.StartsWith("warn:") || l.StartsWith("fail:") || l.StartsWith("crit:") || l.Contains("deadlock")).ToArray();
        Assert.True(complaints.Length == 0, log);
    }

    [Fact]
    public async Task Serve_PortAlreadyInUse_ExitsTwoWithOneErrorLine()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        Mmf.Result r = await Mmf.RunAsync("serve", "--model", "tests/data/models/tiny", "--port", $"{port}");
        AssertPortInUse(r, port);
    }

    [Fact]
    public async Task Serve_OrleansDefaultPortsInUse_StillStartsItsSilo()
    {
        // Held here, or already by another silo on this machine: either way busy, as under a first `mmf serve`.
        using var silo = TryHold(11111);
        using var gateway = TryHold(30000);
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        // The silo starts on ports of its own, so it is the HTTP port, taken too, that stops this one.
        Mmf.Result r = await Mmf.RunAsync("serve", "--model", "tests/data/models/tiny", "--port", $"{port}");
        AssertPortInUse(r, port);
    }

    private static TcpListener? TryHold(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return listener;
        }
        catch (SocketException)
        {
            listener.Dispose();
            return null;
        }
    }

    private static void AssertPortInUse(Mmf.Result r, int port)
    {
        Assert.True(r.ExitCode == 2, r.Output);
        Assert.Contains($"error: port {port} on 127.0.0.1 is already in use", r.Output);
        Assert.Single(r.Output.Split('\n'), line => line.StartsWith("error:", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", r.Output);
        Assert.DoesNotContain("Exception", r.Output);
    }

    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Mmf.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mmf.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        return Process.Start(start)!;
    }

    private static async Task WaitUntilHealthyAsync(HttpClient http, Process serve)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(serve.HasExited, $"mmf serve exited with code {(serve.HasExited ? serve.ExitCode : 0)} before answering");
            try
            {
                using var health = await http.GetAsync("/healthz");
                if (health.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException) { }
            if (deadline.Elapsed > StartTimeout)
                throw new TimeoutException($"mmf serve did not answer /healthz within {StartTimeout}");
            await Task.Delay(200);
        }
    }
}
