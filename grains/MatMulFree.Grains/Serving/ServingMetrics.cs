using System.Diagnostics.Metrics;

namespace MatMulFree.Grains.Serving;

/// <summary>
/// The serving layer's meters ("MatMulFree.Serving", exported on the silo's /metrics): tokens
/// generated, turns refused for backpressure, the size and duration of every batched step, time
/// to first token. One instance per silo, from the host's meter factory.
/// </summary>
public sealed class ServingMetrics
{
    public const string MeterName = "MatMulFree.Serving";

    public ServingMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        Tokens = meter.CreateCounter<long>("mmf.serving.tokens", "{token}", "Tokens generated");
        Rejected = meter.CreateCounter<long>("mmf.serving.rejected_turns", "{turn}", "Turns refused because a backend queue was full");
        BatchSize = meter.CreateHistogram<int>("mmf.serving.batch_size", "{session}", "Sessions advanced by one batched decode step");
        StepDuration = meter.CreateHistogram<double>("mmf.serving.step_duration", "s", "Duration of one batched decode step");
        TimeToFirstToken = meter.CreateHistogram<double>("mmf.serving.time_to_first_token", "s", "From a turn's arrival at its session to its first token");
    }

    public Counter<long> Tokens { get; }
    public Counter<long> Rejected { get; }
    public Histogram<int> BatchSize { get; }
    public Histogram<double> StepDuration { get; }
    public Histogram<double> TimeToFirstToken { get; }

    public void RecordStep(int sessions, TimeSpan duration)
    {
        BatchSize.Record(sessions);
        StepDuration.Record(duration.TotalSeconds);
    }
}
