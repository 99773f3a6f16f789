using System.ComponentModel;
using MatMulFree.Storage;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary><c>mmf store ls</c>: the blobs under a store path, with sizes.</summary>
public sealed class StoreLsCommand : AsyncCommand<StoreLsCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandArgument(0, "[URI]")]
        [Description("Store URI, optionally with a path (models/NAME, runs/RUN, ...); or a path inside --store. Default: the whole store.")]
        public string? Target { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var location = settings.Resolve(settings.Target);
        var prefix = BlobPath.Directory(location.Path);
        var table = new Table().AddColumn("blob").AddColumn(new TableColumn("bytes").RightAligned()).AddColumn("modified (UTC)");
        long count = 0, total = 0;
        await foreach (var blob in location.Open().ListAsync(prefix, cancellationToken))
        {
            table.AddRow(Markup.Escape(blob.Path), $"{blob.Length:N0}", $"{blob.LastModified.UtcDateTime:yyyy-MM-dd HH:mm:ss}");
            count++;
            total += blob.Length;
        }
        if (count > 0) AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"{count} blobs, {total:N0} bytes under {location}");
        return 0;
    }
}
