using MatMulFree.Storage;
using MatMulFree.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary><c>mmf runs ls</c>: the training runs of a store, with their latest checkpoint and loss.</summary>
public sealed class RunsListCommand : AsyncCommand<StoreSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, StoreSettings settings, CancellationToken cancellationToken)
    {
        var store = settings.Resolve(null).Open();
        var runs = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var blob in store.ListAsync(StoreLayout.Runs + "/", cancellationToken))
            runs.Add(blob.Path.Split('/')[1]);
        var table = new Table().AddColumns("run", "latest checkpoint", "steps planned", "loss", "model");
        foreach (string run in runs)
        {
            var checkpoints = new RunCheckpoints(store, run, new RetentionPolicy(1));
            if (await checkpoints.LatestStepAsync(cancellationToken) is not long step)
            {
                table.AddRow(Markup.Escape(run), "-", "-", "-", "-");
                continue;
            }
            var state = await checkpoints.ReadStateAsync(step, cancellationToken);
            var options = await checkpoints.ReadOptionsAsync(cancellationToken);
            string loss = state.Metrics.Count > 0 ? $"{state.Metrics[^1].Loss:F4}" : "-";
            string model = options is null ? "-" : $"{options.Model.HiddenSize}d × {options.Model.NumHiddenLayers}";
            table.AddRow(Markup.Escape(run), step.ToString(), options?.TotalSteps.ToString() ?? "-", loss, model);
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
