using System.Diagnostics.Metrics;

namespace MatMulFree.Grains.Serving;

/// <summary>
/// The serving layer's meters ("MatMulFree.Serving", exported on the silo's /metrics): tokens
/// generated, turns refused for backpressure, the size and duration of every batched step, time
/// to first token, each labelled with the model. One instance per silo, from the host's meter factory.
/// </summary>
public sealed class ServingMetrics
{
    public const string MeterName = "MatMulFree.Serving";
    public const string ModelTag = "model";

    // Bucket bounds travel with the instruments (the advice API), so every exporter gets them. The
    // exporters' defaults (0, 5, 10, … 10000) are made for milliseconds: in seconds every sample
    // fell into le="5".
    // A decode step of the tiny model takes ~0.1 ms, one of 370M at batch 64 tens of ms.
    private static readonly double[] StepSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    // A first token comes after a prefill and maybe a queue wait: milliseconds when idle, seconds under load.
    private static readonly double[] FirstTokenSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    // Batches are bounded by --max-batch (64 by default).
    private static readonly int[] BatchSessions = [1, 2, 4, 8, 16, 32, 64, 128, 256];

    public ServingMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        Tokens = meter.CreateCounter<long>("mmf.serving.tokens", "{token}", "Tokens generated");
        Rejected = meter.CreateCounter<long>("mmf.serving.rejected_turns", "{turn}", "Turns refused because a backend queue was full");
        BatchSize = meter.CreateHistogram("mmf.serving.batch_size", "{session}", "Sessions advanced by one batched decode step",
            tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchSessions });
        StepDuration = meter.CreateHistogram("mmf.serving.step_duration", "s", "Duration of one batched decode step",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StepSeconds });
        TimeToFirstToken = meter.CreateHistogram("mmf.serving.time_to_first_token", "s", "From a turn's arrival at its session to its first token",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = FirstTokenSeconds });
    }

    public Counter<long> Tokens { get; }
    public Counter<long> Rejected { get; }
    public Histogram<int> BatchSize { get; }
    public Histogram<double> StepDuration { get; }
    public Histogram<double> TimeToFirstToken { get; }

    public void RecordToken(string model) => Tokens.Add(1, Model(model));

    public void RecordRejected(string model) => Rejected.Add(1, Model(model));

    public void RecordStep(string model, int sessions, TimeSpan duration)
    {
        BatchSize.Record(sessions, Model(model));
        StepDuration.Record(duration.TotalSeconds, Model(model));
    }

    public void RecordTimeToFirstToken(string model, TimeSpan elapsed) => TimeToFirstToken.Record(elapsed.TotalSeconds, Model(model));

    private static KeyValuePair<string, object?> Model(string model) => new(ModelTag, model);
}
