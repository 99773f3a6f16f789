using System.ComponentModel;
using System.Net;
using MatMulFree.Core;
using MatMulFree.Node;
using MatMulFree.Node.Protocol;
using MatMulFree.Serving;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary><c>mmf node</c>: one device with its model, served over the node protocol until SIGINT or SIGTERM.</summary>
public sealed class NodeCommand : AsyncCommand<NodeCommand.Settings>
{
    /// <summary>The token from the environment, so that it need not show in the process list.</summary>
    public const string TokenVariable = "MMF_NODE_TOKEN";

    public sealed class Settings : CommandSettings
    {
        [CommandOption("--device <KIND>")]
        [Description("The device to serve: cpu (the packed ternary engine). Default cpu.")]
        [DefaultValue("cpu")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--model <DIR>")]
        [Description("A serving folder from `mmf convert` (model.mmfserve) or a Hugging Face model folder (converted at start).")]
        public string? Model { get; init; }

        [CommandOption("--port <P>")]
        [Description("TCP port to listen on (HTTP/2, no TLS).")]
        public int Port { get; init; }

        [CommandOption("--host <ADDR>")]
        [Description("Address to listen on. Default 127.0.0.1; any other needs --token.")]
        [DefaultValue("127.0.0.1")]
        public string Host { get; init; } = "127.0.0.1";

        [CommandOption("--token <T>")]
        [Description($"Bearer token every call must carry (`authorization: Bearer T`); default ${TokenVariable}, else none.")]
        public string? Token { get; init; }

        [CommandOption("--max-sessions <N>")]
        [Description("Session states held at once. Default 1088.")]
        [DefaultValue(1024 + 64)]
        public int MaxSessions { get; init; } = 1024 + 64;

        [CommandOption("--max-batch <N>")]
        [Description("Sessions in one decode step. Default 64.")]
        [DefaultValue(64)]
        public int MaxBatch { get; init; } = 64;

        public override ValidationResult Validate()
        {
            if (Device != CpuDevice.DeviceKind) return ValidationResult.Error($"--device must be cpu (the only device this build serves), got '{Device}'");
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required");
            if (Port == 0) return ValidationResult.Error("--port is required (1..65535)");
            if (Port is < 1 or > 65535) return ValidationResult.Error($"--port must be in 1..65535, got {Port}");
            if (!IPAddress.TryParse(Host, out _)) return ValidationResult.Error($"--host must be an IP address, got '{Host}'");
            if (MaxBatch < 1) return ValidationResult.Error($"--max-batch must be at least 1, got {MaxBatch}");
            if (MaxSessions < MaxBatch) return ValidationResult.Error($"--max-sessions must be at least --max-batch ({MaxBatch}), got {MaxSessions}");
            if (Token is { Length: 0 }) return ValidationResult.Error("--token must not be empty");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string? token = settings.Token ?? NullIfEmpty(Environment.GetEnvironmentVariable(TokenVariable));
        var bind = IPAddress.Parse(settings.Host);
        if (!IPAddress.IsLoopback(bind) && token is null)
            throw new MatMulFreeException($"--host {settings.Host} without --token (or {TokenVariable}) would serve anyone who can reach the port");
        if (!Directory.Exists(settings.Model))
            throw new MatMulFreeException($"{settings.Model}: model folder not found");

        using var device = new CpuDevice(maxBatch: settings.MaxBatch, maxSessions: settings.MaxSessions);
        var model = await device.LoadAsync(ModelSource.Folder(settings.Model!), cancellationToken);
        await using var node = await NodeServer.StartAsync(device, new NodeOptions(settings.Port, token) { Bind = bind }, cancellationToken);
        // One line, printed once the port is bound: scripts and tests wait for it.
        AnsiConsole.WriteLine($"node listening on {node.Address.ToString().TrimEnd('/')}: {device.Kind} device, model {model.Identity} from {settings.Model}, " +
            $"protocol mmf.node.v{NodeProtocol.Version}, {(token is null ? "no token" : "bearer token required")}; Ctrl+C stops");
        // The host's console lifetime turns SIGINT and SIGTERM into a graceful stop: open step streams end with UNAVAILABLE.
        await node.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
