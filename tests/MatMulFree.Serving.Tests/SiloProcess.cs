using System.Diagnostics;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// The standalone silo (MatMulFree.Silo.dll, copied beside the tests) as its own process on
/// loopback, joined to a cluster through Azure Table membership; killed with SIGKILL to simulate a crash.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private SiloProcess(Process process, int siloPort, int httpPort)
    {
        _process = process;
        SiloPort = siloPort;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(60) };
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => Keep($"[process exited with code {process.ExitCode}]");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int SiloPort { get; }
    public HttpClient Client { get; }
    public string Output { get { lock (_output) return string.Join('\n', _output.TakeLast(40)); } }


    public static async Task<SiloProcess> StartAsync(string model, string connectionString, string clusterId)
    {
        int siloPort = HttpSilo.FreePort(), gatewayPort = HttpSilo.FreePort(), httpPort = HttpSilo.FreePort();
        var start = new ProcessStartInfo("dotnet", [
            Path.Combine(AppContext.BaseDirectory, "MatMulFree.Silo.dll"),
            "--Models", model, "--ClusterId", clusterId, "--EngineThreads", "1",
            "--ClusteringConnectionString", connectionString, "--StorageConnectionString", connectionString,
            "--SiloPort", $"{siloPort}", "--GatewayPort", $"{gatewayPort}", "--HttpUrl", $"http://127.0.0.1:{httpPort}",
            // Declare a killed silo dead within seconds rather than the production default.
            "--Membership:ProbeTimeout", "00:00:01", "--Membership:NumMissedProbesLimit", "2", "--Membership:NumVotesForDeathDeclaration", "1",
            // With two silos the survivor gets no probes after the crash and counts itself unhealthy, so it does not vote; a stale "I am alive" row in the table declares the dead one instead.
            "--Membership:IAmAliveTablePublishTimeout", "00:00:02", "--Membership:NumMissedTableIAmAliveLimit", "2",
            "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:Orleans.Runtime.MembershipService", "Information",
        ])
        { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var silo = new SiloProcess(Process.Start(start)!, siloPort, httpPort);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (silo._process.HasExited)
                throw new InvalidOperationException($"silo exited with {silo._process.ExitCode}: {silo.Output}");
            try
            {
                if ((await silo.Client.GetAsync("/healthz")).IsSuccessStatusCode)
                    return silo;
            }
            catch (HttpRequestException) { }
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException($"silo did not answer within 60 s: {silo.Output}");
            await Task.Delay(200);
        }
    }

    /// <summary>SIGKILL: no shutdown, no deactivation, no goodbye to the cluster.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Add(line);
            File.AppendAllText(LogFile, line + "\n");
        }
    }

    /// <summary>Everything the silo printed, for diagnosing a failure after the test.</summary>
    public string LogFile => Path.Combine(Path.GetTempPath(), $"mmf-silo-{SiloPort}.log");

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
