using System.ComponentModel;
using MatMulFree.Core;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Storage;
using MatMulFree.Silo;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf serve</c>: one embedded silo (localhost clustering) serving models over the
/// OpenAI-compatible HTTP API and the sessions API, until Ctrl+C.
/// </summary>
public sealed class ServeCommand : AsyncCommand<ServeCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandOption("--model <DIR|STORE_URI>")]
        [Description("Model to serve: a model folder (Hugging Face or `mmf convert` output), or a store URI or path inside --store: " +
                     "models/NAME[[/VERSION]], or a training run's checkpoint runs/RUN[[/checkpoints/STEP]] (default its latest). Repeat for several.")]
        public string[] Models { get; init; } = [];

        [CommandOption("--port <P>")]
        [Description("HTTP port on 127.0.0.1. Default 8080.")]
        [DefaultValue(8080)]
        public int Port { get; init; } = 8080;

        [CommandOption("--host <ADDRESS>")]
        [Description("Address the HTTP API listens on. Default 127.0.0.1 (use 0.0.0.0 to accept other machines).")]
        [DefaultValue("127.0.0.1")]
        public string Host { get; init; } = "127.0.0.1";

        [CommandOption("--api-key <KEY>")]
        [Description("Require this bearer key; repeat for several. Sessions are visible only to the key that created them. Default: open.")]
        public string[] ApiKeys { get; init; } = [];

        [CommandOption("--max-batch <N>")]
        [Description("Sessions advanced together in one batched step. Default 64.")]
        [DefaultValue(64)]
        public int MaxBatch { get; init; } = 64;

        [CommandOption("--max-queue <N>")]
        [Description("Turns allowed to wait for a batch slot before new ones get HTTP 429. Default 256.")]
        [DefaultValue(256)]
        public int MaxQueue { get; init; } = 256;

        [CommandOption("--node <URL>")]
        [Description("Also serve through this running `mmf node` (http://HOST:PORT); repeat for several. Each must answer and serve one of the --model models at start, " +
                     "or serve refuses to start. Health-checked: one that stops answering is out of rotation within 3 s, its sessions go on elsewhere.")]
        public string[] Nodes { get; init; } = [];

        [CommandOption("--node-token <T>")]
        [Description("Bearer token sent to every --node. Default $MMF_NODE_TOKEN.")]
        public string? NodeToken { get; init; }

        [CommandOption("--no-local")]
        [Description("Serve only through the --node nodes: no device in this process (the models are still loaded, for tokenizing).")]
        public bool NoLocal { get; init; }

        public override ValidationResult Validate()
        {
            if (Models.Length == 0) return ValidationResult.Error("--model is required");
            if (Port is < 1 or > 65535) return ValidationResult.Error($"--port must be 1-65535, got {Port}");
            if (MaxBatch < 1) return ValidationResult.Error($"--max-batch must be at least 1, got {MaxBatch}");
            if (MaxQueue < 0) return ValidationResult.Error($"--max-queue must be at least 0, got {MaxQueue}");
            if (NoLocal && Nodes.Length == 0) return ValidationResult.Error("--no-local serves only through nodes: give at least one --node URL");
            if (NodeToken is { } token && string.IsNullOrWhiteSpace(token)) return ValidationResult.Error("--node-token must not be empty");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string url = $"http://{settings.Host}:{settings.Port}";
        string? sessions = SessionStorage(settings.Store);
        // The silo's own ports are internal to this process: free ones, so that a second `mmf serve` on another --port can start.
        int[] ports = LoopbackPorts.Free(2);
        var silo = new SiloSettings
        {
            Models = [.. settings.Models], ModelStore = settings.Store, HttpUrl = url, ApiKeys = [.. settings.ApiKeys], StorageConnectionString = sessions,
            Limits = new BackendLimits(settings.MaxBatch, settings.MaxQueue), SiloPort = ports[0], GatewayPort = ports[1],
            Nodes = [.. settings.Nodes], NodeToken = settings.NodeToken ?? NonEmpty(Environment.GetEnvironmentVariable(NodeCommand.TokenVariable)), NoLocal = settings.NoLocal,
        };
        await using var app = await SiloHosting.StartEmbeddedAsync(silo, cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"serving [bold]{string.Join(", ", settings.Models)}[/] on [bold]{url}[/] (OpenAI API under /v1, sessions under /v1/sessions, metrics at /metrics); Ctrl+C stops");
        if (settings.Nodes.Length > 0)
            AnsiConsole.MarkupLineInterpolated($"through nodes: {string.Join(", ", settings.Nodes)}{(settings.NoLocal ? " only (--no-local)" : " and this process's CPU")}");
        AnsiConsole.MarkupLineInterpolated($"session state: {(sessions is null ? "in memory, lost at exit (--store with an Azure Storage connection string keeps it)" : "in the --store account")}");
        // The host's console lifetime turns SIGINT and SIGTERM into a graceful stop (sessions' state is already persisted per turn).
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    private static string? NonEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    /// <summary>Orleans' blob grain storage takes a connection string: a store given as one keeps the sessions too, in its own containers.</summary>
    private static string? SessionStorage(string? store) =>
        store is { Length: > 0 } && StoreLocation.IsConnectionString(store.Trim())
            ? string.Join(';', store.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(part => !part.StartsWith("Container=", StringComparison.OrdinalIgnoreCase)))
            : null;
}
