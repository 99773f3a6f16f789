using System.ComponentModel;
using MatMulFree.Storage;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf store pull</c>: downloads a model version (default newest) or a checkpoint (default
/// latest) into a folder; every file is SHA-256 checked against the manifest before it appears.
/// </summary>
public sealed class StorePullCommand : AsyncCommand<StorePullCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandArgument(0, "<URI>")]
        [Description("STORE-URI/models/NAME[[/VERSION]] or STORE-URI/runs/RUN[[/checkpoints/STEP]] (or those paths inside --store).")]
        public string Source { get; init; } = "";

        [CommandOption("--out <DIR>")]
        [Description("Local folder to download into (created if missing).")]
        public string? Out { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("--out is required") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var location = settings.Resolve(settings.Source);
        var target = StoreTarget.Parse(location, "URI");
        var store = location.Open();
        var (what, files, bytes) = await StoreProgress.RunAsync(async progress =>
        {
            if (target.Model is not null)
            {
                var pulled = await new ModelStore(store).PullAsync(target.Model, target.Version, settings.Out!, progress, cancellationToken);
                return ($"model {pulled.Name} version {pulled.Version}", pulled.Manifest.Files.Count, pulled.Manifest.TotalBytes);
            }
            var loaded = await new CheckpointStore(store).LoadAsync(target.Run!, settings.Out!, target.Step, progress, cancellationToken);
            return ($"run {loaded.Run} checkpoint {loaded.Step}", loaded.Manifest.Files.Count, loaded.Manifest.TotalBytes);
        });
        AnsiConsole.MarkupLineInterpolated($"pulled {what}: {files} files, {bytes:N0} bytes, all verified -> {Path.GetFullPath(settings.Out!)}");
        return 0;
    }
}
