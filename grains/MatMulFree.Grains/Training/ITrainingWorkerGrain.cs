using Orleans.Concurrency;

namespace MatMulFree.Grains.Training;

/// <summary>
/// One rank of one generation of a run (key <c>{run}/{generation}/{rank}</c>, see
/// <see cref="TrainingWorkerKey"/>). The job calls the phases of a step on every worker in
/// lockstep; workers call each other's <see cref="AccumulateAsync"/> and <see cref="ReceiveReducedAsync"/>
/// to move gradient bytes. Compute-bound phases may take minutes on big models, hence the timeouts.
/// </summary>
public interface ITrainingWorkerGrain : IGrainWithStringKey
{
    [ResponseTimeout("00:30:00")]
    Task<WorkerReady> InitializeAsync(WorkerAssignment assignment);

    /// <summary>Forward and backward of this rank's micro-batches; returns its share of the global mean loss.</summary>
    [ResponseTimeout("00:30:00")]
    Task<double> ComputeAsync(long step);

    /// <summary>Sends each peer that peer's segment of this rank's gradient; returns bytes sent.</summary>
    [ResponseTimeout("00:30:00")]
    Task<long> ReduceScatterAsync(long step);

    /// <summary>A chunk of <paramref name="sender"/>'s gradient inside this rank's segment.</summary>
    [AlwaysInterleave, ResponseTimeout("00:10:00")]
    Task AccumulateAsync(long step, int sender, int offset, [Immutable] byte[] bytes);

    /// <summary>Sums this rank's segment over all ranks and sends the sum to every peer; returns bytes sent.</summary>
    [ResponseTimeout("00:30:00")]
    Task<long> AllGatherAsync(long step);

    /// <summary>A chunk of the reduced gradient from the rank that owns that segment.</summary>
    [AlwaysInterleave, ResponseTimeout("00:10:00")]
    Task ReceiveReducedAsync(long step, int offset, [Immutable] byte[] bytes);

    /// <summary>Clips, schedules and applies the reduced gradient.</summary>
    [ResponseTimeout("00:30:00")]
    Task<WorkerApplied> ApplyAsync(long step);

    /// <summary>Writes weights, optimizer state, data position and <paramref name="steps"/> as a checkpoint in the store.</summary>
    [ResponseTimeout("01:00:00")]
    Task SaveCheckpointAsync(long step, [Immutable] StepRecord[] steps);

    /// <summary>Frees the replica and deactivates: its generation is over.</summary>
    Task RetireAsync();
}

/// <summary>Worker grain keys: <c>{run}/{generation}/{rank}</c>; the rank is what placement reads.</summary>
public static class TrainingWorkerKey
{
    public static string For(string run, int generation, int rank) => $"{run}/{generation}/{rank}";

    public static int RankOf(string key) =>
        int.TryParse(key.AsSpan(key.LastIndexOf('/') + 1), out int rank) ? rank : 0;
}
