using MatMulFree.Core;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MatMulFree.Storage.Emulator;

/// <summary>
/// A private Azurite (the Azure Storage emulator) for tests and <c>mmf bench store</c>: the npm
/// package pinned in deploy/azurite (installed with <c>npm ci</c> on first use), bound to
/// 127.0.0.1 on free ports, data in a fresh temp folder; disposing kills its whole process tree
/// and deletes the data.
/// </summary>
public sealed class AzuriteProcess : IAsyncDisposable
{
    /// <summary>Overrides where the pinned package.json lives (default: deploy/azurite above the app or the working folder).</summary>
    public const string DirectoryVariable = "MMF_AZURITE_DIR";

    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process process;
    private readonly OutputTail output;

    private AzuriteProcess(Process process, OutputTail output, string dataDirectory, int blobPort, int queuePort, int tablePort)
    {
        this.process = process;
        this.output = output;
        DataDirectory = dataDirectory;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
    }

    public string DataDirectory { get; }
    public int BlobPort { get; }
    public int QueuePort { get; }
    public int TablePort { get; }
    public int ProcessId => process.Id;

    public string BlobEndpoint => $"http://127.0.0.1:{BlobPort}/{AccountName}";
    public string QueueEndpoint => $"http://127.0.0.1:{QueuePort}/{AccountName}";
    public string TableEndpoint => $"http://127.0.0.1:{TablePort}/{AccountName}";

    /// <summary>For Azure SDK clients (blobs, queues, tables) and for <see cref="StoreLocation.Parse"/>.</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint={BlobEndpoint};QueueEndpoint={QueueEndpoint};TableEndpoint={TableEndpoint};";

    /// <summary>Installs (if needed) and starts Azurite; returns once its blob endpoint answers HTTP.</summary>
    public static async Task<AzuriteProcess> StartAsync(string? installDirectory = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        var dir = installDirectory ?? FindInstallDirectory();
        var executable = await EnsureInstalledAsync(dir, log, cancellationToken);
        // Free ports are picked then released, so another process can take one in between: retry.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await LaunchAsync(executable, cancellationToken);
            }
            catch (StoreException) when (attempt < 3)
            {
                log?.Invoke($"azurite: start attempt {attempt} failed, retrying on other ports");
            }
        }
    }

    /// <summary>deploy/azurite (the folder with the pinned package.json) above the app's or the working folder.</summary>
    public static string FindInstallDirectory()
    {
        if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } configured) return configured;
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "deploy", "azurite");
                if (File.Exists(Path.Combine(candidate, "package.json"))) return candidate;
            }
        }
        throw new StoreException($"cannot find deploy/azurite/package.json above {AppContext.BaseDirectory} or {Environment.CurrentDirectory}; set {DirectoryVariable}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill: nothing left to stop.
        }
        finally
        {
            process.Dispose();
            try { Directory.Delete(DataDirectory, recursive: true); }
            catch (IOException) { }
        }
    }

    private static async Task<string> EnsureInstalledAsync(string dir, Action<string>? log, CancellationToken cancellationToken)
    {
        var executable = Path.Combine(dir, "node_modules", ".bin", "azurite");
        if (File.Exists(executable)) return executable;
        // Two test assemblies may start at once: one installs, the other waits on the lock.
        var lockPath = Path.Combine(dir, ".npm-ci.lock");
        FileStream? gate = null;
        for (var waited = 0; gate is null; waited++)
        {
            try { gate = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose); }
            catch (IOException) when (waited < 600) { await Task.Delay(500, cancellationToken); }
        }
        await using (gate)
        {
            if (File.Exists(executable)) return executable;
            log?.Invoke($"azurite: running npm ci in {dir}");
            var npm = new ProcessStartInfo("npm", ["ci", "--no-audit", "--no-fund"])
            {
                WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var install = Process.Start(npm) ?? throw new StoreException("could not start npm to install Azurite");
            var stdout = install.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = install.StandardError.ReadToEndAsync(cancellationToken);
            await install.WaitForExitAsync(cancellationToken);
            if (install.ExitCode != 0 || !File.Exists(executable))
                throw new StoreException($"npm ci in {dir} failed (exit {install.ExitCode}): {(await stderr).Trim()} {(await stdout).Trim()}");
        }
        return executable;
    }

    private static async Task<AzuriteProcess> LaunchAsync(string executable, CancellationToken cancellationToken)
    {
        var ports = LoopbackPorts.Free(3);
        var (blob, queue, table) = (ports[0], ports[1], ports[2]);
        var data = Directory.CreateTempSubdirectory("mmf-azurite-").FullName;
        var start = new ProcessStartInfo(executable, Arguments(data, blob, queue, table))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new StoreException($"could not start {executable}");
        var tail = new OutputTail();
        process.OutputDataReceived += (_, e) => tail.Add(e.Data);
        process.ErrorDataReceived += (_, e) => tail.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var azurite = new AzuriteProcess(process, tail, data, blob, queue, table);
        try
        {
            await azurite.WaitUntilReadyAsync(cancellationToken);
            return azurite;
        }
        catch
        {
            await azurite.DisposeAsync();
            throw;
        }
    }

    /// <summary>Azurite's command line: loopback only, the given ports and data folder, no telemetry.</summary>
    private static string[] Arguments(string dataDirectory, int blobPort, int queuePort, int tablePort) =>
    [
        "--silent", "--location", dataDirectory,
        "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
        "--blobPort", $"{blobPort}", "--queuePort", $"{queuePort}", "--tablePort", $"{tablePort}",
        // Azure.Storage.Blobs 12.30 sends an API version newer than Azurite 3.35 knows.
        "--skipApiVersionCheck", "--loose",
        // Azurite otherwise sends usage data to an outside host each time it starts; tests and benchmarks must not reach out.
        "--disableTelemetry",
    ];

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (process.HasExited)
                throw new StoreException($"azurite exited with code {process.ExitCode} before answering on port {BlobPort}: {output}");
            try
            {
                // Any HTTP answer (even 403 for the unsigned request) means the blob service is up.
                using var _ = await http.GetAsync($"{BlobEndpoint}?comp=list", cancellationToken);
                return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested) { }
            if (DateTime.UtcNow > deadline)
                throw new StoreException($"azurite did not answer on port {BlobPort} within {StartTimeout.TotalSeconds:0} s: {output}");
            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>The last lines Azurite printed, for the error when it does not come up.</summary>
    private sealed class OutputTail
    {
        private readonly Queue<string> lines = new();

        public void Add(string? line)
        {
            if (line is null) return;
            lock (lines)
            {
                lines.Enqueue(line);
                if (lines.Count > 20) lines.Dequeue();
            }
        }

        public override string ToString()
        {
            lock (lines) return lines.Count == 0 ? "(no output)" : string.Join(" | ", lines);
        }
    }
}
