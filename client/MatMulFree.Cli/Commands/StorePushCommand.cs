using System.ComponentModel;
using MatMulFree.Storage;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary><c>mmf store push</c>: uploads a model folder as a new immutable version, manifest last.</summary>
public sealed class StorePushCommand : AsyncCommand<StorePushCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandOption("--model <DIR>")]
        [Description("Local model folder to upload (config.json, weights, tokenizer; every file, recursively).")]
        public string? Model { get; init; }

        [CommandOption("--to <URI>")]
        [Description("Destination: STORE-URI/models/NAME, or models/NAME inside --store.")]
        public string? To { get; init; }

        [CommandOption("--version <VERSION>")]
        [Description("Version name (A-Z a-z 0-9 . _ -). Default: one more than the highest numeric version.")]
        public string? Version { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required");
            if (string.IsNullOrWhiteSpace(To)) return ValidationResult.Error("--to is required");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var location = settings.Resolve(settings.To);
        var target = StoreTarget.Parse(location, "--to");
        if (target.Model is null || target.Version is not null)
            throw new StoreLocationException($"--to '{location}' must end in models/NAME (give the version with --version)");
        var models = new ModelStore(location.Open());
        var pushed = await StoreProgress.RunAsync(progress =>
            models.PushAsync(target.Model, settings.Model!, settings.Version, progress, cancellationToken));
        AnsiConsole.MarkupLineInterpolated(
            $"pushed [bold]{pushed.Name}[/] version [bold]{pushed.Version}[/]: {pushed.Manifest.Files.Count} files, {pushed.Manifest.TotalBytes:N0} bytes -> {location.Store}/{pushed.Prefix}");
        return 0;
    }
}
