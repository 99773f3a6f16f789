using MatMulFree.Training;

namespace MatMulFree.Grains.Training;

/// <summary>
/// What a training run is, as `mmf train` submits it to <see cref="ITrainingJobGrain.StartAsync"/>.
/// The options travel as JSON (<see cref="TrainingOptions.ToJson"/>) so the plain library type
/// needs no Orleans attributes.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TrainingJobSpec(
    [property: Id(0)] string Run,
    [property: Id(1)] string OptionsJson,
    [property: Id(2)] string DataUri,
    [property: Id(3)] string StoreUri,
    [property: Id(4)] int Workers,
    [property: Id(5)] int CheckpointEvery,
    [property: Id(6)] TimeSpan StepTimeout,
    [property: Id(7)] int KeepCheckpoints = 3,
    [property: Id(8)] bool Resume = false)
{
    public TrainingOptions Options => TrainingOptions.Parse(OptionsJson, $"run '{Run}' options");
}

public enum TrainingJobStatus { Created, Running, Completed, Failed, Cancelled }

/// <summary>One optimizer step as the job recorded it (the Orleans twin of <see cref="StepMetrics"/>).</summary>
[GenerateSerializer, Immutable]
public sealed record StepRecord(
    [property: Id(0)] long Step,
    [property: Id(1)] double Loss,
    [property: Id(2)] double LearningRate,
    [property: Id(3)] double GradientNorm,
    [property: Id(4)] long Tokens,
    [property: Id(5)] int Workers,
    [property: Id(6)] double ComputeSeconds,
    [property: Id(7)] double AllReduceSeconds,
    [property: Id(8)] double StepSeconds,
    [property: Id(9)] long AllReduceBytes,
    [property: Id(10)] string ParameterHash)
{
    public StepMetrics ToMetrics() => new(Step, Loss, LearningRate, GradientNorm, Tokens, Workers, ComputeSeconds, AllReduceSeconds, StepSeconds, AllReduceBytes, ParameterHash);

    public static StepRecord From(StepMetrics m) => new(m.Step, m.Loss, m.LearningRate, m.GradientNorm, m.Tokens, m.Workers, m.ComputeSeconds, m.AllReduceSeconds, m.StepSeconds, m.AllReduceBytes, m.ParameterHash);
}

/// <summary>A run as `mmf train` and `mmf runs show` see it: status, progress, recent steps and events.</summary>
[GenerateSerializer, Immutable]
public sealed record TrainingJobSnapshot(
    [property: Id(0)] string Run,
    [property: Id(1)] TrainingJobStatus Status,
    [property: Id(2)] long Step,
    [property: Id(3)] long TotalSteps,
    [property: Id(4)] long? LatestCheckpoint,
    [property: Id(5)] int Generation,
    [property: Id(6)] string[] WorkerSilos,
    [property: Id(7)] int Rollbacks,
    [property: Id(8)] string? Error,
    [property: Id(9)] StepRecord[] Steps,
    [property: Id(10)] string[] Events,
    [property: Id(11)] TrainingJobSpec? Spec,
    [property: Id(12)] string JobSilo);

/// <summary>What a worker of one generation needs to build its replica.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerAssignment(
    [property: Id(0)] string Run,
    [property: Id(1)] int Generation,
    [property: Id(2)] int Rank,
    [property: Id(3)] int Ranks,
    [property: Id(4)] string OptionsJson,
    [property: Id(5)] string DataUri,
    [property: Id(6)] string StoreUri,
    [property: Id(7)] long? CheckpointStep,
    [property: Id(8)] int KeepCheckpoints);

/// <summary>A worker that has built its replica: where it runs, at which step, with which weights.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerReady([property: Id(0)] string Silo, [property: Id(1)] long Step, [property: Id(2)] string ParameterHash);

/// <summary>A worker's result of applying a step.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerApplied([property: Id(0)] double LearningRate, [property: Id(1)] double GradientNorm, [property: Id(2)] string ParameterHash);
