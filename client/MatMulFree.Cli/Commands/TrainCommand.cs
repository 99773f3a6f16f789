using System.ComponentModel;
using System.Text.Json;
using MatMulFree.Core;
using MatMulFree.Grains.Training;
using MatMulFree.Storage;
using MatMulFree.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf train</c>: a data-parallel run on Orleans — silos started in this process (one per
/// worker) or a running cluster (<c>--cluster</c>) — with live progress or a JSON line per step.
/// </summary>
public sealed class TrainCommand : AsyncCommand<TrainCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandOption("--model-config <CONFIG>")]
        [Description("tiny (byte-level, d 256, 4 layers), 370m, 1.3b, 2.7b, or a Hugging Face config.json.")]
        [DefaultValue("tiny")]
        public string ModelConfig { get; init; } = "tiny";

        [CommandOption("--data <URI>")]
        [Description("A data set made by `mmf data prepare`: store URI, or a path inside --store such as data/brown.")]
        public string? Data { get; init; }

        [CommandOption("--workers <N>")]
        [Description("Data-parallel workers, each on its own silo.")]
        [DefaultValue(1)]
        public int Workers { get; init; } = 1;

        [CommandOption("--steps <S>")]
        [Description("Optimizer steps.")]
        [DefaultValue(200L)]
        public long Steps { get; init; } = 200;

        [CommandOption("--batch <B>")]
        [Description("Sequences per micro-batch on each worker.")]
        [DefaultValue(8)]
        public int Batch { get; init; } = 8;

        [CommandOption("--accumulate <A>")]
        [Description("Micro-batches per worker per step (gradient accumulation); the global batch is workers × A × B.")]
        [DefaultValue(1)]
        public int Accumulate { get; init; } = 1;

        [CommandOption("--seq <T>")]
        [Description("Tokens per sequence.")]
        [DefaultValue(128)]
        public int Seq { get; init; } = 128;

        [CommandOption("--lr <X>")]
        [Description("Peak learning rate. Default: the paper's for the size (4e-3 up to 370M, 2.5e-3 for 1.3B, 1.5e-3 for 2.7B).")]
        public double? Lr { get; init; }

        [CommandOption("--warmup <W>")]
        [Description("Warmup steps. Default: 1 % of --steps (at least 1).")]
        public long? Warmup { get; init; }

        [CommandOption("--seed <N>")]
        [Description("Seed of the initial weights and the data order.")]
        [DefaultValue(1234L)]
        public long Seed { get; init; } = 1234;

        [CommandOption("--checkpoint-every <K>")]
        [Description("Save a checkpoint (weights, optimizer, data position, metrics) every K steps, and after the last.")]
        [DefaultValue(100)]
        public int CheckpointEvery { get; init; } = 100;

        [CommandOption("--keep <N>")]
        [Description("Checkpoints to keep (the newest N).")]
        [DefaultValue(3)]
        public int Keep { get; init; } = 3;

        [CommandOption("--run <NAME>")]
        [Description("Run name: checkpoints go to runs/NAME/ in the store. Default: run-UTC-TIMESTAMP.")]
        public string? Run { get; init; }

        [CommandOption("--resume")]
        [Description("Continue the run from its latest checkpoint.")]
        public bool Resume { get; init; }

        [CommandOption("--cluster <CLUSTER>")]
        [Description("A running cluster: HOST:PORT of a silo gateway, or the Azure Table connection string of its membership. Default: start one silo per worker in this process.")]
        public string? Cluster { get; init; }

        [CommandOption("--step-timeout <SECONDS>")]
        [Description("A step phase slower than this counts as a lost worker: roll back and regroup.")]
        [DefaultValue(600)]
        public int StepTimeout { get; init; } = 600;

        [CommandOption("--device <DEVICE>")]
        [Description("cpu. (cuda needs a build with TorchSharp-cuda-linux, which this one is not.)")]
        [DefaultValue("cpu")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--json")]
        [Description("Print one JSON object per step (and per event) instead of the live display.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required (prepare one with `mmf data prepare`)");
            if (Workers < 1) return ValidationResult.Error($"--workers must be at least 1, got {Workers}");
            if (Accumulate < 1) return ValidationResult.Error($"--accumulate must be at least 1, got {Accumulate}");
            if (CheckpointEvery < 1) return ValidationResult.Error($"--checkpoint-every must be at least 1, got {CheckpointEvery}");
            if (Keep < 1) return ValidationResult.Error($"--keep must be at least 1, got {Keep}");
            if (StepTimeout < 1) return ValidationResult.Error($"--step-timeout must be at least 1 second, got {StepTimeout}");
            if (Device == "cuda") return ValidationResult.Error("--device cuda needs TorchSharp-cuda-linux instead of TorchSharp-cpu; this build has only the CPU package");
            if (Device != "cpu") return ValidationResult.Error($"--device must be cpu or cuda, got '{Device}'");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var config = File.Exists(settings.ModelConfig) ? ModelConfig.Load(settings.ModelConfig) : ModelConfig.Preset(settings.ModelConfig);
        var options = new TrainingOptions
        {
            Model = config, MicroBatch = settings.Batch, MicroBatchesPerStep = settings.Workers * settings.Accumulate, SequenceLength = settings.Seq,
            TotalSteps = settings.Steps, PeakRate = settings.Lr ?? LearningRateSchedule.PaperPeakRate(config),
            WarmupSteps = settings.Warmup ?? LearningRateSchedule.DefaultWarmup(settings.Steps), Seed = settings.Seed,
        };
        options.Validate();
        string run = settings.Run ?? $"run-{DateTime.UtcNow:yyyyMMdd-HHmmss}";
        string store = settings.Store ?? Environment.GetEnvironmentVariable(StoreLocation.EnvironmentVariable) ?? StoreLocation.DefaultStore;
        var spec = new TrainingJobSpec(run, options.ToJson(), settings.Data!, store, settings.Workers, settings.CheckpointEvery,
            TimeSpan.FromSeconds(settings.StepTimeout), settings.Keep, settings.Resume);

        // Embedded silos share this machine's cores: give each replica its share, not all of them.
        TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / (settings.Cluster is null ? settings.Workers : 1)));
        await using var cluster = await TrainingCluster.OpenAsync(settings.Cluster, settings.Workers, cancellationToken);
        var job = cluster.Grains.GetGrain<ITrainingJobGrain>(run);
        await job.StartAsync(spec);
        if (!settings.Json)
            AnsiConsole.MarkupLineInterpolated($"run [bold]{run}[/]: {config.HiddenSize}d × {config.NumHiddenLayers} layers, {settings.Workers} worker(s), global batch {options.MicroBatch * options.MicroBatchesPerStep} × {options.SequenceLength} tokens, peak lr {options.PeakRate:G3}, checkpoints in {store}");

        var final = settings.Json
            ? await FollowAsync(job, WriteJson, null, cancellationToken)
            : await FollowLiveAsync(job, options, cancellationToken);
        if (final.Status != TrainingJobStatus.Completed)
            throw new TrainingException($"run '{run}' {final.Status.ToString().ToLowerInvariant()} at step {final.Step}: {final.Error ?? "cancelled"}");
        if (!settings.Json && final.Steps.Length > 0)
        {
            var last = final.Steps[^1];
            AnsiConsole.MarkupLineInterpolated($"done: step {last.Step}, loss {last.Loss:F4}, {final.Rollbacks} rollback(s); parameters {last.ParameterHash}");
            if (final.LatestCheckpoint is long step)
                AnsiConsole.MarkupLineInterpolated($"latest checkpoint: {StoreLocation.Resolve(StoreLayout.Checkpoint(run, step), store)}");
        }
        return 0;
    }

    private static async Task<TrainingJobSnapshot> FollowLiveAsync(ITrainingJobGrain job, TrainingOptions options, CancellationToken cancellationToken)
    {
        TrainingJobSnapshot final = null!;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask("starting workers...", maxValue: options.TotalSteps);
                var window = new Queue<StepRecord>();
                final = await FollowAsync(job, step =>
                {
                    window.Enqueue(step);
                    while (window.Count > 20) window.Dequeue();
                    double tokensPerSecond = window.Sum(s => s.Tokens) / Math.Max(1e-9, window.Sum(s => s.StepSeconds));
                    task.Value = step.Step;
                    task.Description = $"step {step.Step}/{options.TotalSteps}  loss {step.Loss:F4}  lr {step.LearningRate:0.00e+0}  " +
                        $"{tokensPerSecond:N0} tok/s  all-reduce {step.AllReduceSeconds * 1000:F0} ms  workers {step.Workers}";
                }, message => AnsiConsole.MarkupLineInterpolated($"[yellow]{message}[/]"), cancellationToken);
            });
        return final;
    }

    /// <summary>Polls the job until it stops, reporting each step once (steps redone after a rollback again) and each event.</summary>
    private static async Task<TrainingJobSnapshot> FollowAsync(ITrainingJobGrain job, Action<StepRecord> onStep, Action<string>? onEvent, CancellationToken cancellationToken)
    {
        long reported = 0;
        int rollbacks = 0, events = 0;
        bool cancelling = false;
        while (true)
        {
            if (cancellationToken.IsCancellationRequested && !cancelling)
            {
                await job.CancelAsync();
                cancelling = true;
            }
            var snapshot = await job.GetSnapshotAsync(reported);
            if (snapshot.Rollbacks != rollbacks)
            {
                rollbacks = snapshot.Rollbacks;
                reported = Math.Min(reported, snapshot.LatestCheckpoint ?? 0);
            }
            foreach (var step in snapshot.Steps.Where(s => s.Step > reported))
            {
                onStep(step);
                reported = step.Step;
            }
            int totalEvents = snapshot.Events.Length;
            foreach (var message in snapshot.Events.Skip(Math.Min(events, totalEvents)))
                (onEvent ?? (m => Console.WriteLine(JsonSerializer.Serialize(new { @event = m }))))(message);
            events = totalEvents;
            if (snapshot.Status is TrainingJobStatus.Completed or TrainingJobStatus.Failed or TrainingJobStatus.Cancelled)
                return await job.GetSnapshotAsync(Math.Max(0, snapshot.Step - 1)); // with the last step, for the summary
            await Task.Delay(TimeSpan.FromMilliseconds(250), CancellationToken.None);
        }
    }

    private static void WriteJson(StepRecord s) => Console.WriteLine(JsonSerializer.Serialize(new
    {
        step = s.Step, loss = s.Loss, lr = s.LearningRate, grad_norm = s.GradientNorm, tokens = s.Tokens, workers = s.Workers,
        tokens_per_second = s.Tokens / Math.Max(1e-9, s.StepSeconds), step_seconds = s.StepSeconds, compute_seconds = s.ComputeSeconds,
        allreduce_seconds = s.AllReduceSeconds, allreduce_bytes = s.AllReduceBytes, parameter_hash = s.ParameterHash,
    }));
}
