using System.Diagnostics;
using MatMulFree.Training;
using Orleans.Runtime;

namespace MatMulFree.Grains.Training;

/// <summary>
/// The workers of one generation of a run and the step protocol over them: compute, reduce-scatter,
/// all-gather, apply — each phase on every worker at once, the next only after all finished. While
/// a phase runs, the membership is checked every second: a worker whose silo left the cluster, or a
/// phase past the step timeout, fails the step with <see cref="WorkerLostException"/>. Used only by
/// <see cref="TrainingJobGrain"/>, on its scheduler.
/// </summary>
internal sealed class WorkerGeneration(IGrainFactory grains, int number, IReadOnlyList<ITrainingWorkerGrain> workers, IReadOnlyList<string> silos, TimeSpan stepTimeout)
{
    private static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(1);

    public int Number => number;
    public IReadOnlyList<string> Silos => silos;
    public int Count => workers.Count;

    /// <summary>Picks min(wanted, live silos) silos, builds one worker on each from <paramref name="checkpoint"/> (or fresh).</summary>
    public static async Task<WorkerGeneration> StartAsync(IGrainFactory grains, TrainingJobSpec spec, int number, long? checkpoint)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        var chosen = hosts.Keys.Select(s => s.ToParsableString()).Order(StringComparer.Ordinal).Take(spec.Workers).ToList();
        var workers = chosen.Select((_, rank) => grains.GetGrain<ITrainingWorkerGrain>(TrainingWorkerKey.For(spec.Run, number, rank))).ToList();
        var starts = new List<Task<WorkerReady>>();
        for (int rank = 0; rank < workers.Count; rank++)
        {
            RequestContext.Set(DistinctSilosPlacement.TargetSiloKey, chosen[rank]);
            starts.Add(workers[rank].InitializeAsync(new WorkerAssignment(
                spec.Run, number, rank, workers.Count, spec.OptionsJson, spec.DataUri, spec.StoreUri, checkpoint, spec.KeepCheckpoints)));
            RequestContext.Remove(DistinctSilosPlacement.TargetSiloKey);
        }
        var starting = new WorkerGeneration(grains, number, workers, chosen, spec.StepTimeout);
        try
        {
            var ready = await starting.PhaseAsync("start", checkpoint ?? 0, starts, TimeSpan.FromMinutes(10));
            if (ready.Select(r => r.ParameterHash).Distinct().Count() != 1)
                throw new WorkerLostException($"generation {number}: workers started with different weights ({string.Join(", ", ready.Select(r => r.ParameterHash))})");
            return new WorkerGeneration(grains, number, workers, ready.Select(r => r.Silo).ToList(), spec.StepTimeout);
        }
        catch
        {
            starting.Retire();
            throw;
        }
    }

    /// <summary>One optimizer step on every worker; the replicas' parameter hashes must agree after it.</summary>
    public async Task<StepRecord> StepAsync(long step, long tokens)
    {
        var clock = Stopwatch.StartNew();
        double[] shares = await PhaseAsync("compute", step, workers.Select(w => w.ComputeAsync(step)).ToList());
        // A diverged run, not a lost worker: applying the step would make every weight NaN, and a
        // rollback would diverge again. TrainingException fails the run with this message.
        if (!double.IsFinite(shares.Sum()))
            throw new TrainingException($"step {step}: the loss is {NonFinite(shares.Sum())}; the run diverged and stops without applying it (a lower --lr may help)");
        double compute = clock.Elapsed.TotalSeconds;
        long[] scattered = await PhaseAsync("reduce-scatter", step, workers.Select(w => w.ReduceScatterAsync(step)).ToList());
        long[] gathered = await PhaseAsync("all-gather", step, workers.Select(w => w.AllGatherAsync(step)).ToList());
        double allReduce = clock.Elapsed.TotalSeconds - compute;
        WorkerApplied[] applied = await PhaseAsync("apply", step, workers.Select(w => w.ApplyAsync(step)).ToList());
        if (!double.IsFinite(applied[0].GradientNorm))
            throw new TrainingException($"step {step}: the gradient norm is {NonFinite(applied[0].GradientNorm)}; the run diverged and stops before a checkpoint can keep its weights (a lower --lr may help)");
        if (applied.Select(a => a.ParameterHash).Distinct().Count() != 1)
            throw new InvalidOperationException($"step {step}: replicas diverged ({string.Join(", ", applied.Select(a => a.ParameterHash))})");
        return new StepRecord(step, shares.Sum(), applied[0].LearningRate, applied[0].GradientNorm, tokens, workers.Count,
            compute, allReduce, clock.Elapsed.TotalSeconds, scattered.Sum() + gathered.Sum(), applied[0].ParameterHash);
    }

    private static string NonFinite(double value) => double.IsNaN(value) ? "NaN" : "infinite";

    /// <summary>Rank 0 writes the checkpoint: after a step every replica holds the same state.</summary>
    public async Task SaveCheckpointAsync(long step, StepRecord[] steps)
    {
        async Task<bool> Save()
        {
            await workers[0].SaveCheckpointAsync(step, steps);
            return true;
        }
        await PhaseAsync("checkpoint", step, [Save()], TimeSpan.FromHours(1));
    }

    /// <summary>Best effort: workers on dead silos cannot answer, and that is fine.</summary>
    public void Retire()
    {
        foreach (var worker in workers)
            _ = worker.RetireAsync().ContinueWith(t => _ = t.Exception, TaskScheduler.Current);
    }

    private Task<T[]> PhaseAsync<T>(string name, long step, IReadOnlyList<Task<T>> calls) => PhaseAsync(name, step, calls, stepTimeout);

    private async Task<T[]> PhaseAsync<T>(string name, long step, IReadOnlyList<Task<T>> calls, TimeSpan timeout)
    {
        var all = Task.WhenAll(calls);
        var clock = Stopwatch.StartNew();
        while (await Task.WhenAny(all, Task.Delay(WatchInterval)) != all)
        {
            if (clock.Elapsed > timeout)
                throw Abandon(all, new WorkerLostException($"step {step}: {name} did not finish within {timeout}"));
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            var alive = hosts.Keys.Select(s => s.ToParsableString()).ToHashSet();
            var lost = silos.Where(s => !alive.Contains(s)).ToList();
            if (lost.Count > 0)
                throw Abandon(all, new WorkerLostException($"step {step}: silo {string.Join(", ", lost)} left the cluster during {name}"));
        }
        return await all;
    }

    // The abandoned calls may still fail later; observe them so nothing reports them as unobserved.
    private static Exception Abandon(Task calls, Exception reason)
    {
        _ = calls.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        return reason;
    }
}
