using Orleans.Concurrency;

namespace MatMulFree.Grains.Training;

/// <summary>
/// One training run, keyed by its name. `mmf train` starts it and polls it for progress; `mmf runs`
/// reads it. The job owns the run's schedule and state; the math runs in its <see cref="ITrainingWorkerGrain"/>s.
/// </summary>
public interface ITrainingJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the run (or, with <see cref="TrainingJobSpec.Resume"/>, continues it from its latest
    /// checkpoint in the store). Returns at once; the steps run in the background.
    /// </summary>
    Task<TrainingJobSnapshot> StartAsync(TrainingJobSpec spec);

    /// <summary>Status and the steps after <paramref name="afterStep"/> (at most the last 1,000).</summary>
    [AlwaysInterleave]
    Task<TrainingJobSnapshot> GetSnapshotAsync(long afterStep = 0);

    /// <summary>Stops after the current step; the latest checkpoint stays the restart point.</summary>
    Task CancelAsync();
}
