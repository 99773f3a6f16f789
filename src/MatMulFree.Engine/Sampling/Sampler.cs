namespace MatMulFree.Engine.Sampling;

/// <summary>
/// Picks tokens from logits: repetition penalty, then greedy or temperature → top-k → top-p.
/// Its random stream (SplitMix64) is its own, so a seed reproduces a sample on any runtime.
/// Not thread-safe: one sampler per session.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly int[] _order;
    private readonly float[] _scratch;
    private ulong _rng;

    public Sampler(SamplingOptions options, int vocabSize)
    {
        options.Validate();
        _options = options;
        _order = new int[vocabSize];
        _scratch = new float[vocabSize];
        _rng = options.Seed;
    }

    /// <param name="logits">One row of logits; left unchanged.</param>
    /// <param name="history">Tokens seen so far (prompt and output), for the repetition penalty.</param>
    public int Next(ReadOnlySpan<float> logits, IReadOnlyCollection<int> history)
    {
        var z = _scratch.AsSpan(0, logits.Length);
        logits.CopyTo(z);
        if (_options.RepetitionPenalty != 1f)
            foreach (int id in history.Distinct())
                if ((uint)id < (uint)z.Length)
                    z[id] = z[id] > 0 ? z[id] / _options.RepetitionPenalty : z[id] * _options.RepetitionPenalty;

        if (_options.Temperature == 0f)
            return ArgMax(z);

        // Most likely first; ties broken by id so that the order, and so the sample, is deterministic.
        var order = _order.AsSpan(0, z.Length);
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        var keys = _scratch;
        order.Sort((a, b) => keys[b].CompareTo(keys[a]) is var c && c != 0 ? c : a.CompareTo(b));

        int keep = _options.TopK > 0 ? Math.Min(_options.TopK, order.Length) : order.Length;
        double max = z[order[0]], sum = 0;
        var probs = new double[keep];
        for (int i = 0; i < keep; i++)
            sum += probs[i] = Math.Exp((z[order[i]] - max) / _options.Temperature);
        if (_options.TopP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
            {
                cumulative += probs[i] / sum;
                if (cumulative >= _options.TopP)
                {
                    keep = i + 1;
                    break;
                }
            }
            sum = 0;
            for (int i = 0; i < keep; i++)
                sum += probs[i];
        }
        double u = NextDouble() * sum;
        for (int i = 0; i < keep; i++)
        {
            u -= probs[i];
            if (u < 0)
                return order[i];
        }
        return order[keep - 1];
    }

    public static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int i = 1; i < z.Length; i++)
            if (z[i] > z[best])
                best = i;
        return best;
    }

    private double NextDouble()
    {
        ulong x = _rng += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return (x >> 11) * (1.0 / (1UL << 53));
    }
}
