using System.Globalization;
using System.Text;

namespace MatMulFree.Storage;

/// <summary>
/// A training run's checkpoints under <c>runs/{run}/checkpoints/{step}/</c> and its
/// <c>runs/{run}/latest</c> pointer. Saving uploads the files, then the manifest, then moves
/// <c>latest</c> by compare-and-swap: a crash at any point leaves <c>latest</c> on the previous
/// whole checkpoint, and of two writers racing to move it exactly one wins.
/// </summary>
public sealed class CheckpointStore(IBlobStore store)
{
    public IBlobStore Blobs => store;

    /// <summary>
    /// Saves a checkpoint and makes it <c>latest</c>. The pointer moves only if nobody moved it since
    /// this save began; otherwise <see cref="BlobConflictException"/> (the checkpoint itself stays).
    /// </summary>
    public async Task<Checkpoint> SaveAsync(string run, long step, IReadOnlyList<SnapshotFile> files, double? validationLoss = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var before = await GetLatestAsync(run, cancellationToken);
        var checkpoint = await WriteAsync(run, step, files, validationLoss, progress, cancellationToken);
        await MoveLatestAsync(run, step, before, cancellationToken);
        return checkpoint;
    }

    /// <summary>Uploads a checkpoint without touching <c>latest</c>; it exists once this returns.</summary>
    public async Task<Checkpoint> WriteAsync(string run, long step, IReadOnlyList<SnapshotFile> files, double? validationLoss = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var prefix = StoreLayout.Checkpoint(run, step);
        if (await store.GetPropertiesAsync(StoreLayout.Manifest(prefix), cancellationToken) is not null)
            throw new BlobConflictException(store.Location, prefix, $"checkpoint {step} of run '{run}' already exists");
        var manifest = await SnapshotWriter.WriteAsync(store, prefix, files, entries => new Manifest
        {
            Kind = "checkpoint", CreatedUtc = DateTimeOffset.UtcNow, Files = entries, Step = step, ValidationLoss = validationLoss,
        }, progress, cancellationToken);
        return new Checkpoint(run, step, prefix, manifest);
    }

    /// <summary>The run's latest pointer with its ETag, or null when the run has none yet.</summary>
    public async Task<LatestPointer?> GetLatestAsync(string run, CancellationToken cancellationToken = default)
    {
        var path = StoreLayout.Latest(run);
        var blob = await store.GetPropertiesAsync(path, cancellationToken);
        if (blob is null) return null;
        await using var stream = await store.OpenReadAsync(path, cancellationToken: cancellationToken);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var json = await reader.ReadToEndAsync(cancellationToken);
        // The ETag must be the one of the bytes read: re-check so a move in between is not missed.
        var after = await store.GetPropertiesAsync(path, cancellationToken);
        if (after?.ETag != blob.ETag) return await GetLatestAsync(run, cancellationToken);
        return LatestPointer.Parse(json, blob.ETag, $"{store.Location}/{path}");
    }

    /// <summary>
    /// Points <c>latest</c> at <paramref name="step"/> if it still is <paramref name="expected"/>
    /// (null: if the run has no pointer yet). The checkpoint must be complete.
    /// </summary>
    public async Task<LatestPointer> MoveLatestAsync(string run, long step, LatestPointer? expected, CancellationToken cancellationToken = default)
    {
        var prefix = StoreLayout.Checkpoint(run, step);
        if (await store.GetPropertiesAsync(StoreLayout.Manifest(prefix), cancellationToken) is null)
            throw new BlobNotFoundException(store.Location, prefix, $"checkpoint {step} of run '{run}' is not complete (no manifest) in store {store.Location}");
        var pointer = new LatestPointer(step, DateTimeOffset.UtcNow);
        var condition = expected is null ? BlobCondition.IfNotExists : BlobCondition.IfMatch(expected.ETag);
        await using var json = new MemoryStream(Encoding.UTF8.GetBytes(pointer.ToJson()));
        try
        {
            var written = await store.PutAsync(StoreLayout.Latest(run), json, new PutOptions { Condition = condition }, cancellationToken);
            return pointer with { ETag = written.ETag };
        }
        catch (BlobConflictException e)
        {
            throw new BlobConflictException(store.Location, StoreLayout.Latest(run),
                $"another writer moved run '{run}' to a different checkpoint since {(expected is null ? "this run had none" : $"step {expected.Step}")}; step {step} was not made latest", e);
        }
    }

    /// <summary>The run's complete checkpoints, by step.</summary>
    public async Task<IReadOnlyList<Checkpoint>> ListAsync(string run, CancellationToken cancellationToken = default)
    {
        var result = new List<Checkpoint>();
        foreach (var (step, complete) in await StepFoldersAsync(run, cancellationToken))
        {
            if (!complete) continue;
            var prefix = StoreLayout.Checkpoint(run, step);
            if (await SnapshotReader.ReadManifestAsync(store, prefix, cancellationToken) is { } manifest)
                result.Add(new Checkpoint(run, step, prefix, manifest));
        }
        return result;
    }

    /// <summary>The checkpoint at <paramref name="step"/>, or the one <c>latest</c> points at.</summary>
    public async Task<Checkpoint> ResolveAsync(string run, long? step = null, CancellationToken cancellationToken = default)
    {
        var target = step ?? (await GetLatestAsync(run, cancellationToken))?.Step
            ?? throw new BlobNotFoundException(store.Location, StoreLayout.Latest(run), $"run '{run}' has no latest checkpoint in store {store.Location}");
        var prefix = StoreLayout.Checkpoint(run, target);
        var manifest = await SnapshotReader.ReadManifestAsync(store, prefix, cancellationToken)
            ?? throw new BlobNotFoundException(store.Location, prefix, $"checkpoint {target} of run '{run}' is not in store {store.Location} (no manifest)");
        return new Checkpoint(run, target, prefix, manifest);
    }

    /// <summary>
    /// Downloads a checkpoint (default: latest) into <paramref name="destination"/>; every file is
    /// checked against the manifest and a mismatch is a <see cref="BlobIntegrityException"/>.
    /// </summary>
    public async Task<Checkpoint> LoadAsync(string run, string destination, long? step = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var checkpoint = await ResolveAsync(run, step, cancellationToken);
        await SnapshotReader.DownloadAsync(store, checkpoint.Prefix, checkpoint.Manifest, destination, progress, cancellationToken);
        return checkpoint;
    }

    public async Task<IReadOnlyList<FileCheck>> VerifyAsync(Checkpoint checkpoint, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        await SnapshotReader.VerifyAsync(store, checkpoint.Prefix, checkpoint.Manifest, progress, cancellationToken);

    /// <summary>
    /// Deletes the checkpoints <paramref name="policy"/> does not keep, and the debris of uploads
    /// that never completed (steps without a manifest below <c>latest</c>; those above may still be
    /// in flight). Returns the deleted steps.
    /// </summary>
    public async Task<IReadOnlyList<long>> ApplyRetentionAsync(string run, RetentionPolicy policy, CancellationToken cancellationToken = default)
    {
        var latest = await GetLatestAsync(run, cancellationToken);
        var complete = await ListAsync(run, cancellationToken);
        var keep = complete.OrderByDescending(c => c.Step).Take(policy.KeepLast).Select(c => c.Step).ToHashSet();
        if (policy.KeepBest && complete.Where(c => c.Manifest.ValidationLoss is not null).MinBy(c => c.Manifest.ValidationLoss) is { } best)
            keep.Add(best.Step);
        if (latest is not null) keep.Add(latest.Step);
        var doomed = complete.Select(c => c.Step).Where(s => !keep.Contains(s)).ToList();
        if (latest is not null)
            doomed.AddRange((await StepFoldersAsync(run, cancellationToken)).Where(f => !f.Complete && f.Step < latest.Step).Select(f => f.Step));
        foreach (var step in doomed)
            await DeleteCheckpointAsync(run, step, cancellationToken);
        return doomed.Order().ToList();
    }

    private async Task DeleteCheckpointAsync(string run, long step, CancellationToken cancellationToken)
    {
        var prefix = StoreLayout.Checkpoint(run, step);
        // Manifest first: from that moment the checkpoint no longer exists for any reader.
        await store.DeleteAsync(StoreLayout.Manifest(prefix), cancellationToken);
        var rest = new List<string>();
        await foreach (var blob in store.ListAsync(prefix + "/", cancellationToken)) rest.Add(blob.Path);
        foreach (var path in rest) await store.DeleteAsync(path, cancellationToken);
    }

    private async Task<IReadOnlyList<(long Step, bool Complete)>> StepFoldersAsync(string run, CancellationToken cancellationToken)
    {
        var prefix = StoreLayout.Checkpoints(run) + "/";
        var steps = new SortedDictionary<long, bool>();
        await foreach (var blob in store.ListAsync(prefix, cancellationToken))
        {
            var rest = blob.Path[prefix.Length..].Split('/');
            if (rest.Length < 2 || !long.TryParse(rest[0], NumberStyles.None, CultureInfo.InvariantCulture, out var step)) continue;
            steps[step] = (steps.TryGetValue(step, out var seen) && seen) || rest is [_, StoreLayout.ManifestFile];
        }
        return steps.Select(kv => (kv.Key, kv.Value)).ToList();
    }
}
