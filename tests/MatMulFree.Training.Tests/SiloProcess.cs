using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MatMulFree.Training.Tests;

/// <summary>
/// A real silo process (the standalone MatMulFree.Silo host, copied beside the tests) on its own
/// loopback ports, with Azure Table membership and grain storage in Azurite. Killed with SIGKILL,
/// it gets no chance to leave the cluster politely — the case membership has to detect.
/// </summary>
internal sealed class SiloProcess : IDisposable
{
    private readonly Process process;
    private readonly StringWriter log = new();

    private SiloProcess(Process process, int siloPort)
    {
        this.process = process;
        SiloPort = siloPort;
    }

    public int SiloPort { get; }
    public bool HasExited => process.HasExited;
    public string Log { get { lock (log) return log.ToString(); } }

    public static SiloProcess Start(string connectionString, string clusterId)
    {
        int[] ports = FreePorts(3);
        string silo = Path.Combine(AppContext.BaseDirectory, "MatMulFree.Silo.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                silo, "--ClusteringConnectionString", connectionString, "--StorageConnectionString", connectionString,
                "--ClusterId", clusterId, "--ServiceId", clusterId, "--SiloPort", $"{ports[0]}", "--GatewayPort", $"{ports[1]}",
                "--HttpUrl", $"http://127.0.0.1:{ports[2]}",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Tiny test shapes: libtorch's spinning intra-op threads would only fight over the two cores.
        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the silo process");
        var handle = new SiloProcess(process, ports[0]);
        process.OutputDataReceived += (_, e) => handle.Append(e.Data);
        process.ErrorDataReceived += (_, e) => handle.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return handle;
    }

    /// <summary>SIGKILL: no graceful shutdown, no membership goodbye.</summary>
    public void Kill() => process.Kill(entireProcessTree: true);

    private void Append(string? line)
    {
        if (line is null) return;
        lock (log) log.WriteLine(line);
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        int[] ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
        process.Dispose();
    }
}
