namespace MatMulFree.Grains.Training;

/// <summary>
/// The persistent state of a <see cref="TrainingJobGrain"/>: enough to pick the run up again after
/// the job's own silo restarts (from <see cref="LatestCheckpoint"/>). Large data (weights, optimizer
/// state) lives in the store's checkpoints, never here.
/// </summary>
[GenerateSerializer]
public sealed class TrainingJobState
{
    [Id(0)] public TrainingJobSpec? Spec { get; set; }
    [Id(1)] public TrainingJobStatus Status { get; set; } = TrainingJobStatus.Created;

    /// <summary>Steps applied to the weights the workers hold now.</summary>
    [Id(2)] public long Step { get; set; }

    [Id(3)] public long? LatestCheckpoint { get; set; }
    [Id(4)] public int Generation { get; set; }
    [Id(5)] public List<string> WorkerSilos { get; set; } = [];
    [Id(6)] public int Rollbacks { get; set; }
    [Id(7)] public string? Error { get; set; }

    /// <summary>Every applied step, in order; a rollback drops those after the checkpoint it returns to.</summary>
    [Id(8)] public List<StepRecord> Steps { get; set; } = [];

    [Id(9)] public List<string> Events { get; set; } = [];
}
