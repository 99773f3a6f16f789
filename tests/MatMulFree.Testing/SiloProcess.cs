using MatMulFree.Core;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MatMulFree.Testing;

/// <summary>
/// A real silo process (the standalone MatMulFree.Silo host, copied beside the tests) on its own
/// loopback ports, with Azure Table membership and grain storage in Azurite. Killed with SIGKILL,
/// it gets no chance to leave the cluster politely — the case membership has to detect.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

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

    /// <summary>The silo's HTTP API.</summary>
    public HttpClient Client { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the silo printed.</summary>
    public string Log { get { lock (_output) return string.Join('\n', _output.TakeLast(40)); } }

    /// <summary>Everything the silo printed, kept after the test for diagnosing a failure.</summary>
    public string LogFile => Path.Combine(Path.GetTempPath(), $"mmf-silo-{SiloPort}.log");

    /// <summary>Starts a silo and waits until its HTTP API answers.</summary>
    /// <param name="extraArguments">Host configuration, e.g. models to serve or membership timings.</param>
    public static async Task<SiloProcess> StartAsync(string connectionString, string clusterId, params string[] extraArguments)
    {
        int[] ports = LoopbackPorts.Free(3);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[
            Path.Combine(AppContext.BaseDirectory, "MatMulFree.Silo.dll"),
            "--ClusterId", clusterId, "--ServiceId", clusterId,
            "--ClusteringConnectionString", connectionString, "--StorageConnectionString", connectionString,
            "--SiloPort", $"{ports[0]}", "--GatewayPort", $"{ports[1]}", "--HttpUrl", $"http://127.0.0.1:{ports[2]}",
            .. extraArguments])
            start.ArgumentList.Add(argument);
        // Tiny test shapes: libtorch's spinning intra-op threads would only fight over the two cores.
        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["Logging__LogLevel__Default"] = "Warning";

        var silo = new SiloProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start the silo process"), ports[0], ports[2]);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (silo.HasExited)
                throw new InvalidOperationException($"silo exited with {silo._process.ExitCode}: {silo.Log}");
            try
            {
                if ((await silo.Client.GetAsync("/healthz")).IsSuccessStatusCode)
                    return silo;
            }
            catch (HttpRequestException) { }
            if (clock.Elapsed > StartTimeout)
            {
                await silo.DisposeAsync();
                throw new TimeoutException($"silo did not answer within {StartTimeout.TotalSeconds} s: {silo.Log}");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>SIGKILL: no graceful shutdown, no deactivation, no goodbye to the cluster.</summary>
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

    // All listeners are open at once, so the ports are distinct; they are free again when returned.

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
