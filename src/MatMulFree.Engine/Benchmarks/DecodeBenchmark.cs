using System.Diagnostics;
using MatMulFree.Engine.Sampling;

namespace MatMulFree.Engine.Benchmarks;

/// <summary>
/// One decode measurement: N sessions stepping together. Wall-clock throughput lies on a shared
/// machine, so the process CPU time is kept beside it: tokens per CPU-second times the engine's
/// threads is what the same code makes with its cores to itself (spinning and memory stalls
/// count as used, waiting for other processes does not).
/// </summary>
public sealed record DecodeMeasurement(int Batch, int Steps, double WallSeconds, double CpuSeconds, int Threads)
{
    public long Tokens => (long)Steps * Batch;
    public double TokensPerSecond => Tokens / WallSeconds;
    public double CpuMsPerToken => CpuSeconds * 1e3 / Tokens;
    public double TokensPerCpuSecond => Tokens / CpuSeconds;
    /// <summary>Throughput with <see cref="Threads"/> cores to itself, from CPU time.</summary>
    public double CpuBoundTokensPerSecond => TokensPerCpuSecond * Threads;
}

/// <summary>Several rounds of one measurement, and the best of them (see <see cref="DecodeBenchmark.MeasureBest"/>).</summary>
public sealed record DecodeRounds(DecodeMeasurement Best, IReadOnlyList<double> TokensPerSecond);

/// <summary>Decode throughput of the engine: N sessions stepping together, tokens per second over all of them.</summary>
public static class DecodeBenchmark
{
    /// <summary>
    /// <paramref name="rounds"/> rounds of <paramref name="seconds"/> / rounds each after a warm-up
    /// of <paramref name="warmUpSeconds"/> (the runtime's tiered compilation settles in it), and the
    /// best round. Other tenants of a shared machine only ever slow a round down, so the best is
    /// the one nearest the machine's own speed — the same rule as the bandwidth probe's best pass.
    /// </summary>
    public static DecodeRounds MeasureBest(InferenceEngine engine, int batch, int minSteps, double seconds, int rounds = 3, double warmUpSeconds = 0.3)
    {
        if (rounds < 1)
            throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "at least one round");
        Measure(engine, batch, 1, warmUpSeconds);
        var all = Enumerable.Range(0, rounds).Select(_ => Measure(engine, batch, minSteps, seconds / rounds)).ToArray();
        return new DecodeRounds(all.MaxBy(m => m.TokensPerSecond)!, all.Select(m => m.TokensPerSecond).ToArray());
    }

    /// <summary>Runs at least <paramref name="minSteps"/> steps and at least <paramref name="minSeconds"/> after one warm-up step.</summary>
    public static DecodeMeasurement Measure(InferenceEngine engine, int batch, int minSteps, double minSeconds, StageProfile? profile = null)
    {
        int v = engine.Model.Config.VocabSize;
        var states = Enumerable.Range(0, batch).Select(_ => engine.CreateState()).ToArray();
        var tokens = Enumerable.Range(0, batch).Select(i => (i * 7919 + 1) % v).ToArray();
        var logits = new float[batch * v];
        engine.DecodeBatch(states, tokens, logits);
        engine.Profile = profile;
        try
        {
            int steps = 0;
            double cpu = ThreadCpuClock.ProcessSeconds();
            var clock = Stopwatch.StartNew();
            while (steps < minSteps || clock.Elapsed.TotalSeconds < minSeconds)
            {
                engine.DecodeBatch(states, tokens, logits);
                profile?.Restart();
                for (int i = 0; i < batch; i++)
                    tokens[i] = Sampler.ArgMax(logits.AsSpan(i * v, v));
                profile?.Mark(EngineStage.Sampling);
                steps++;
            }
            double wall = clock.Elapsed.TotalSeconds;
            return new DecodeMeasurement(batch, steps, wall, ThreadCpuClock.ProcessSeconds() - cpu, engine.Threads);
        }
        finally
        {
            engine.Profile = null;
        }
    }
}
