using System.Diagnostics;

namespace MatMulFree.Engine.Benchmarks;

/// <summary>Decode throughput of the engine: N sessions stepping together, tokens per second over all of them.</summary>
public static class DecodeBenchmark
{
    /// <summary>Runs at least <paramref name="minSteps"/> steps and at least <paramref name="minSeconds"/> after one warm-up step.</summary>
    public static double TokensPerSecond(InferenceEngine engine, int batch, int minSteps, double minSeconds)
    {
        int v = engine.Model.Config.VocabSize;
        var states = Enumerable.Range(0, batch).Select(_ => engine.CreateState()).ToArray();
        var tokens = Enumerable.Range(0, batch).Select(i => (i * 7919 + 1) % v).ToArray();
        var logits = new float[batch * v];
        engine.DecodeBatch(states, tokens, logits);
        int steps = 0;
        var clock = Stopwatch.StartNew();
        while (steps < minSteps || clock.Elapsed.TotalSeconds < minSeconds)
        {
            engine.DecodeBatch(states, tokens, logits);
            for (int i = 0; i < batch; i++)
                tokens[i] = Sampling.Sampler.ArgMax(logits.AsSpan(i * v, v));
            steps++;
        }
        return steps * (double)batch / clock.Elapsed.TotalSeconds;
    }
}
