using System.ComponentModel;
using MatMulFree.Node;
using MatMulFree.Serving;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf node</c>: one device with its model, served over the node protocol until SIGINT or SIGTERM.
/// The checks and the hosting are <see cref="NodeHostOptions"/> and <see cref="NodeHost"/>, which the
/// node executable (<c>mmf-node</c>, no Orleans) runs too; here only Spectre's flags and help.
/// </summary>
public sealed class NodeCommand : AsyncCommand<NodeCommand.Settings>
{
    /// <summary>The token from the environment, so that it need not show in the process list.</summary>
    public const string TokenVariable = NodeHostOptions.TokenVariable;

    public sealed class Settings : CommandSettings
    {
        [CommandOption("--device <KIND>")]
        [Description("The device to serve: cpu (the packed ternary engine). Default cpu.")]
        [DefaultValue(CpuDevice.DeviceKind)]
        public string Device { get; init; } = CpuDevice.DeviceKind;

        [CommandOption("--model <DIR>")]
        [Description("A serving folder from `mmf convert` (model.mmfserve) or a Hugging Face model folder (converted at start).")]
        public string? Model { get; init; }

        [CommandOption("--port <P>")]
        [Description("TCP port to listen on (HTTP/2, no TLS).")]
        public int Port { get; init; }

        [CommandOption("--host <ADDR>")]
        [Description("Address to listen on. Default 127.0.0.1; any other needs --token.")]
        [DefaultValue(NodeHostOptions.DefaultHost)]
        public string Host { get; init; } = NodeHostOptions.DefaultHost;

        [CommandOption("--token <T>")]
        [Description($"Bearer token every call must carry (`authorization: Bearer T`); default ${TokenVariable}, else none.")]
        public string? Token { get; init; }

        [CommandOption("--max-sessions <N>")]
        [Description("Session states held at once. Default 1088.")]
        [DefaultValue(NodeHostOptions.DefaultMaxSessions)]
        public int MaxSessions { get; init; } = NodeHostOptions.DefaultMaxSessions;

        [CommandOption("--max-batch <N>")]
        [Description("Sessions in one decode step. Default 64.")]
        [DefaultValue(NodeHostOptions.DefaultMaxBatch)]
        public int MaxBatch { get; init; } = NodeHostOptions.DefaultMaxBatch;

        public NodeHostOptions ToOptions() => new()
        {
            Device = Device, Model = Model, Port = Port, Host = Host, Token = Token, MaxSessions = MaxSessions, MaxBatch = MaxBatch,
        };

        public override ValidationResult Validate() =>
            ToOptions().Validate() is { } error ? ValidationResult.Error(error) : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        await NodeHost.RunAsync(settings.ToOptions(), AnsiConsole.WriteLine, cancellationToken);
        return 0;
    }
}
