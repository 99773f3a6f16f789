using MatMulFree.Core;
using MatMulFree.Storage;
using MatMulFree.Training;
using Orleans.Storage;

namespace MatMulFree.Grains.Training;

/// <summary>
/// Owns one run: its spec, the step reached, the latest checkpoint, the current generation of
/// workers and the metrics of every applied step (persisted in the "training" grain storage).
/// Runs the step loop in the background of its activation. When a worker is lost (its silo left
/// the membership, or a phase timed out) it rolls back to the latest checkpoint and starts a new
/// generation on the silos that are left — the global batch unchanged, each worker then takes more
/// micro-batches (see <see cref="BatchSampler"/>) — dropping the metrics of the abandoned steps, so
/// every step is applied to the final weights exactly once. Called by `mmf train` and `mmf runs`.
/// </summary>
public sealed class TrainingJobGrain(
    [PersistentState("job", TrainingSiloBuilderExtensions.StorageName)] IPersistentState<TrainingJobState> job,
    ILocalSiloDetails silo) : Grain, ITrainingJobGrain
{
    private const int MaxFailuresWithoutProgress = 8;
    private WorkerGeneration? generation;
    private Task? loop;
    private bool cancelRequested;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Running but not here: the job's silo died, or a silo's death lost this grain's directory
        // entry and the old activation is orphaned. Either way, carry on from the latest checkpoint;
        // an orphan finds out at its next state write (ETag) and stops.
        var state = job.State;
        if (state.Status == TrainingJobStatus.Running)
        {
            long back = state.LatestCheckpoint ?? 0;
            state.Rollbacks++;
            state.Steps.RemoveAll(s => s.Step > back);
            state.Events.Add($"{DateTimeOffset.UtcNow:u} job activated on {silo.SiloAddress.ToParsableString()} while running; resuming from step {back}");
            state.Step = back;
            StartLoop();
        }
        return Task.CompletedTask;
    }

    public async Task<TrainingJobSnapshot> StartAsync(TrainingJobSpec spec)
    {
        if (loop is { IsCompleted: false }) throw new TrainingException($"run '{spec.Run}' is already running (step {job.State.Step})");
        var options = spec.Options;
        options.Validate();
        if (spec.Workers < 1) throw new TrainingException($"--workers must be at least 1, got {spec.Workers}");
        if (spec.CheckpointEvery < 1) throw new TrainingException($"--checkpoint-every must be at least 1, got {spec.CheckpointEvery}");
        var checkpoints = new RunCheckpoints(StoreLocation.Resolve(null, spec.StoreUri).Open(), spec.Run, new RetentionPolicy(spec.KeepCheckpoints));
        var resumeFrom = await Task.Run(() => checkpoints.ResumePointAsync(options, spec.Resume));
        var state = new TrainingJobState { Spec = spec, Status = TrainingJobStatus.Running, Generation = job.State.Generation };
        if (resumeFrom is not null)
        {
            state.Step = resumeFrom.Step;
            state.LatestCheckpoint = resumeFrom.Step;
            state.Steps = resumeFrom.Metrics.Select(StepRecord.From).ToList();
            state.Events.Add($"{DateTimeOffset.UtcNow:u} resumed from checkpoint {resumeFrom.Step}");
        }
        job.State = state;
        await job.WriteStateAsync();
        cancelRequested = false;
        StartLoop();
        return Snapshot(0);
    }

    public Task<TrainingJobSnapshot> GetSnapshotAsync(long afterStep) => Task.FromResult(Snapshot(afterStep));

    public Task CancelAsync()
    {
        cancelRequested = true;
        return Task.CompletedTask;
    }

    private void StartLoop() => loop = RunAsync();

    private async Task RunAsync()
    {
        var state = job.State;
        var spec = state.Spec!;
        var options = spec.Options;
        long tokensPerStep = (long)options.MicroBatch * options.MicroBatchesPerStep * options.SequenceLength;
        int failures = 0;
        while (state.Step < options.TotalSteps && !cancelRequested)
        {
            DelayDeactivation(TimeSpan.FromMinutes(30));
            try
            {
                if (generation is null) await StartGenerationAsync(spec);
                long step = state.Step + 1;
                var record = await generation!.StepAsync(step, tokensPerStep);
                state.Steps.Add(record);
                state.Step = step;
                failures = 0;
                if (step % spec.CheckpointEvery == 0 || step == options.TotalSteps)
                {
                    await generation.SaveCheckpointAsync(step, [.. state.Steps]);
                    state.LatestCheckpoint = step;
                    await job.WriteStateAsync();
                    // A silo joined since the last loss: grow back toward the requested workers from this checkpoint.
                    if (generation.Count < spec.Workers && step < options.TotalSteps && await LiveSiloCountAsync() > generation.Count)
                        Replace($"{DateTimeOffset.UtcNow:u} step {step}: more silos available; regrouping");
                }
            }
            catch (InconsistentStateException)
            {
                // Another activation of this job took over (see OnActivateAsync): leave the run to it.
                generation?.Retire();
                generation = null;
                DeactivateOnIdle();
                return;
            }
            catch (Exception e) when (e is not MatMulFreeException)
            {
                if (++failures > MaxFailuresWithoutProgress)
                {
                    state.Status = TrainingJobStatus.Failed;
                    state.Error = $"{failures} failures without progress; last: {e.Message}";
                    break;
                }
                RollBack(e);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, 2 * failures)));
            }
            catch (MatMulFreeException e)
            {
                state.Status = TrainingJobStatus.Failed;
                state.Error = e.Message;
                break;
            }
        }
        if (state.Status == TrainingJobStatus.Running)
            state.Status = cancelRequested ? TrainingJobStatus.Cancelled : TrainingJobStatus.Completed;
        generation?.Retire();
        generation = null;
        await job.WriteStateAsync();
    }

    private async Task StartGenerationAsync(TrainingJobSpec spec)
    {
        var state = job.State;
        state.Generation++;
        // Claimed in storage first: of two activations of this job, only one can own a generation's worker keys.
        await job.WriteStateAsync();
        generation = await WorkerGeneration.StartAsync(GrainFactory, spec, state.Generation, state.LatestCheckpoint);
        state.WorkerSilos = [.. generation.Silos];
        state.Events.Add($"{DateTimeOffset.UtcNow:u} generation {state.Generation}: {generation.Count} worker(s) from step {state.Step} on {string.Join(", ", generation.Silos)}");
        await job.WriteStateAsync();
    }

    /// <summary>Back to the latest checkpoint: the steps after it are forgotten and will be recomputed.</summary>
    private void RollBack(Exception cause)
    {
        var state = job.State;
        long back = state.LatestCheckpoint ?? 0;
        state.Rollbacks++;
        state.Steps.RemoveAll(s => s.Step > back);
        Replace($"{DateTimeOffset.UtcNow:u} step {state.Step + 1} failed ({cause.GetType().Name}: {cause.Message}); rolled back to step {back}");
        state.Step = back;
    }

    private void Replace(string reason)
    {
        job.State.Events.Add(reason);
        generation?.Retire();
        generation = null;
    }

    private async Task<int> LiveSiloCountAsync() =>
        (await GrainFactory.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Count;

    private TrainingJobSnapshot Snapshot(long afterStep)
    {
        var s = job.State;
        var steps = s.Steps.Where(r => r.Step > afterStep).TakeLast(1000).ToArray();
        return new TrainingJobSnapshot(this.GetPrimaryKeyString(), s.Status, s.Step, s.Spec?.Options.TotalSteps ?? 0, s.LatestCheckpoint,
            s.Generation, [.. s.WorkerSilos], s.Rollbacks, s.Error, steps, [.. s.Events.TakeLast(50)], s.Spec, silo.SiloAddress.ToParsableString());
    }
}
