using MatMulFree.Storage;

namespace MatMulFree.Training;

/// <summary>
/// A run's training checkpoints in a store (<c>runs/{run}/checkpoints/{step}/</c>, through
/// <see cref="CheckpointStore"/>): a folder written by <see cref="ReplicaTrainer.Save"/> goes up,
/// <c>latest</c> moves, old ones are pruned; <see cref="DownloadAsync"/> brings one back down.
/// </summary>
public sealed class RunCheckpoints(IBlobStore store, string run, RetentionPolicy retention)
{
    private readonly CheckpointStore checkpoints = new(store);

    public string Run => run;
    public string Location => store.Location;

    /// <summary>Uploads <paramref name="folder"/> as checkpoint <paramref name="step"/>, makes it latest, applies retention.</summary>
    public async Task<Checkpoint> SaveAsync(string folder, long step, CancellationToken cancellationToken = default)
    {
        var latest = await checkpoints.GetLatestAsync(run, cancellationToken);
        Checkpoint checkpoint;
        try
        {
            checkpoint = await checkpoints.WriteAsync(run, step, SnapshotFile.FromDirectory(folder), cancellationToken: cancellationToken);
        }
        catch (BlobConflictException)
        {
            // Written before a fault rolled the run back past it, and never made latest: the same
            // step of the same run on the same data, so it is as good a restart point as the new one.
            checkpoint = await checkpoints.ResolveAsync(run, step, cancellationToken);
        }
        if (latest is null || latest.Step != step)
            await checkpoints.MoveLatestAsync(run, step, latest, cancellationToken);
        await checkpoints.ApplyRetentionAsync(run, retention, cancellationToken);
        return checkpoint;
    }

    /// <summary>The step <c>latest</c> points at, or null when the run has no checkpoint.</summary>
    public async Task<long?> LatestStepAsync(CancellationToken cancellationToken = default) =>
        (await checkpoints.GetLatestAsync(run, cancellationToken))?.Step;

    /// <summary>Downloads checkpoint <paramref name="step"/> (verified against its manifest) into <paramref name="folder"/>.</summary>
    public async Task<Checkpoint> DownloadAsync(long step, string folder, CancellationToken cancellationToken = default) =>
        await checkpoints.LoadAsync(run, folder, step, cancellationToken: cancellationToken);

    /// <summary>The trainer state of checkpoint <paramref name="step"/> without downloading the weights.</summary>
    public async Task<TrainerState> ReadStateAsync(long step, CancellationToken cancellationToken = default)
    {
        var checkpoint = await checkpoints.ResolveAsync(run, step, cancellationToken);
        string path = $"{checkpoint.Prefix}/{TrainerState.FileName}";
        await using var stream = await store.OpenReadAsync(path, cancellationToken: cancellationToken);
        using var reader = new StreamReader(stream);
        return TrainerState.Parse(await reader.ReadToEndAsync(cancellationToken), $"{store.Location}/{path}");
    }

    /// <summary>The run's options as its first checkpoint recorded them, or null when it has none.</summary>
    public async Task<TrainingOptions?> ReadOptionsAsync(CancellationToken cancellationToken = default)
    {
        if (await LatestStepAsync(cancellationToken) is not long step) return null;
        var checkpoint = await checkpoints.ResolveAsync(run, step, cancellationToken);
        string path = $"{checkpoint.Prefix}/{ReplicaTrainer.OptionsFile}";
        await using var stream = await store.OpenReadAsync(path, cancellationToken: cancellationToken);
        using var reader = new StreamReader(stream);
        return TrainingOptions.Parse(await reader.ReadToEndAsync(cancellationToken), $"{store.Location}/{path}");
    }

    /// <summary>
    /// Where a run starts: null for a new run, the latest checkpoint's state for <paramref name="resume"/>.
    /// Refuses to start over a run that has checkpoints, to resume one that has none, and to resume
    /// with another model, sequence length or global batch (the data order would not continue).
    /// </summary>
    public async Task<TrainerState?> ResumePointAsync(TrainingOptions options, bool resume, CancellationToken cancellationToken = default)
    {
        if (await LatestStepAsync(cancellationToken) is not long step)
            return resume ? throw new TrainingException($"--resume: run '{run}' has no checkpoint in {store.Location}") : null;
        if (!resume)
            throw new TrainingException($"run '{run}' already has checkpoints in {store.Location} (latest: step {step}): pass --resume, or choose another --run");
        var before = await ReadOptionsAsync(cancellationToken);
        if (before is not null && (before.Model != options.Model || before.SequenceLength != options.SequenceLength
            || before.MicroBatch * before.MicroBatchesPerStep != options.MicroBatch * options.MicroBatchesPerStep))
            throw new TrainingException($"--resume: run '{run}' was started with another model, --seq or global batch " +
                $"({before.Model.HiddenSize}d × {before.Model.NumHiddenLayers}, seq {before.SequenceLength}, {before.MicroBatch * before.MicroBatchesPerStep} sequences per step)");
        return await ReadStateAsync(step, cancellationToken);
    }

    /// <summary>Complete checkpoints of the run, by step.</summary>
    public async Task<IReadOnlyList<Checkpoint>> ListAsync(CancellationToken cancellationToken = default) =>
        await checkpoints.ListAsync(run, cancellationToken);
}
