using System.ComponentModel;
using MatMulFree.Storage;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf store verify</c>: re-hashes every file of every model version or checkpoint (every
/// manifest) under a path and reports each; any mismatch fails the command naming the blob.
/// </summary>
public sealed class StoreVerifyCommand : AsyncCommand<StoreVerifyCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandArgument(0, "<URI>")]
        [Description("Store URI with a path (models/NAME[[/VERSION]], runs/RUN, ... or the whole store); or a path inside --store.")]
        public string Target { get; init; } = "";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var location = settings.Resolve(settings.Target);
        var store = location.Open();
        var prefix = BlobPath.Directory(location.Path);
        var snapshots = await SnapshotReader.FindAsync(store, prefix, cancellationToken);
        if (snapshots.Count == 0)
            throw new BlobNotFoundException(store.Location, location.Path, $"no manifest.json under {location}: nothing to verify");

        var table = new Table().AddColumn("snapshot").AddColumn("file").AddColumn(new TableColumn("bytes").RightAligned()).AddColumn("result");
        var bad = new List<(string Path, string Problem)>();
        var checkedFiles = await StoreProgress.RunAsync(async progress =>
        {
            var count = 0;
            foreach (var snapshot in snapshots)
            {
                var manifest = await SnapshotReader.ReadManifestAsync(store, snapshot, cancellationToken)
                    ?? throw new BlobNotFoundException(store.Location, StoreLayout.Manifest(snapshot));
                foreach (var check in await SnapshotReader.VerifyAsync(store, snapshot, manifest, progress, cancellationToken))
                {
                    count++;
                    var color = check.Status == FileCheckStatus.Ok ? "green" : check.IsOk ? "yellow" : "red";
                    table.AddRow(Markup.Escape(snapshot), Markup.Escape(check.Path), $"{check.ActualSize ?? 0:N0}", $"[{color}]{Markup.Escape(check.Describe())}[/]");
                    if (!check.IsOk) bad.Add(($"{snapshot}/{check.Path}", check.Describe()));
                }
            }
            return count;
        });
        AnsiConsole.Write(table);
        if (bad.Count > 0)
            throw new BlobIntegrityException(store.Location, bad[0].Path,
                $"{bad.Count} of {checkedFiles} files do not match their manifest: {string.Join("; ", bad.Select(b => $"{b.Path}: {b.Problem}"))}");
        AnsiConsole.MarkupLineInterpolated($"[green]ok[/]: {checkedFiles} files in {snapshots.Count} snapshots match their manifests");
        return 0;
    }
}
