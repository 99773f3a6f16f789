using System.ComponentModel;
using System.Text.Json;
using MatMulFree.Grains.Training;
using MatMulFree.Storage;
using MatMulFree.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf runs show RUN</c>: a run's status and loss curve — from its job grain when <c>--cluster</c>
/// names a running cluster, else from its latest checkpoint in the store (the job of an embedded
/// cluster ends with `mmf train`; its checkpoints stay).
/// </summary>
public sealed class RunsShowCommand : AsyncCommand<RunsShowCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandArgument(0, "<RUN>")]
        [Description("Run name.")]
        public string Run { get; init; } = "";

        [CommandOption("--cluster <CLUSTER>")]
        [Description("Read the live job grain of a running cluster (HOST:PORT of a gateway, or its Azure Table connection string).")]
        public string? Cluster { get; init; }

        [CommandOption("--svg <FILE>")]
        [Description("Also write the loss curve to this SVG file.")]
        public string? Svg { get; init; }

        [CommandOption("--json")]
        [Description("Print one JSON object: status, step, total steps, latest checkpoint, and every step's metrics.")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string status;
        long? latest, total;
        long step;
        IReadOnlyList<StepMetrics> steps;
        IReadOnlyList<string> events = [];
        if (settings.Cluster is not null)
        {
            await using var cluster = await TrainingCluster.OpenAsync(settings.Cluster, 0, cancellationToken);
            var snapshot = await cluster.Grains.GetGrain<ITrainingJobGrain>(settings.Run).GetSnapshotAsync(0);
            if (snapshot.Spec is null) throw new TrainingException($"run '{settings.Run}' is not known to cluster {settings.Cluster}");
            // The job's own step: a live run is past its latest checkpoint, and the metrics it sends are the last 1,000 at most.
            (status, step, total, latest, steps, events) = (snapshot.Status.ToString().ToLowerInvariant(), snapshot.Step, snapshot.TotalSteps,
                snapshot.LatestCheckpoint, snapshot.Steps.Select(s => s.ToMetrics()).ToList(), snapshot.Events);
        }
        else
        {
            var checkpoints = new RunCheckpoints(settings.Resolve(null).Open(), settings.Run, new RetentionPolicy(1));
            latest = await checkpoints.LatestStepAsync(cancellationToken)
                ?? throw new TrainingException($"run '{settings.Run}' has no checkpoint in {checkpoints.Location}");
            steps = (await checkpoints.ReadStateAsync(latest.Value, cancellationToken)).Metrics;
            var options = await checkpoints.ReadOptionsAsync(cancellationToken);
            (step, total) = (latest.Value, options?.TotalSteps);
            // The store knows checkpoints only: a run short of its total may have stopped, or may be training now.
            status = total is not null && latest >= total ? "completed" : "stopped or still training (--cluster reads a live job)";
        }

        if (settings.Svg is not null)
            await File.WriteAllTextAsync(settings.Svg, LossCurveSvg.Render(steps, $"{settings.Run}: training loss"), cancellationToken);
        if (settings.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { run = settings.Run, status, step, total_steps = total, latest_checkpoint = latest, steps }, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
            return 0;
        }
        AnsiConsole.MarkupLineInterpolated($"run [bold]{settings.Run}[/]: {status}, step {step} of {total?.ToString() ?? "?"}, latest checkpoint {latest?.ToString() ?? "-"}");
        var table = new Table().AddColumns("step", "loss", "lr", "grad norm", "workers", "tokens/s", "all-reduce ms");
        int stride = Math.Max(1, steps.Count / 20);
        foreach (var s in steps.Where((s, i) => i % stride == 0 || i == steps.Count - 1))
            table.AddRow($"{s.Step}", $"{s.Loss:F4}", $"{s.LearningRate:0.00e+0}", $"{s.GradientNorm:F3}", $"{s.Workers}",
                $"{s.Tokens / Math.Max(1e-9, s.StepSeconds):N0}", $"{s.AllReduceSeconds * 1000:F1}");
        AnsiConsole.Write(table);
        foreach (string e in events) AnsiConsole.MarkupLineInterpolated($"[grey]{e}[/]");
        if (settings.Svg is not null) AnsiConsole.MarkupLineInterpolated($"loss curve -> {settings.Svg}");
        return 0;
    }
}
