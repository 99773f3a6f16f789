using System.Runtime.InteropServices;

namespace MatMulFree.Engine.Sampling;

/// <summary>
/// Picks tokens from logits: repetition penalty, presence and frequency penalties, then greedy or
/// temperature → top-k → top-p.
/// Its random stream (SplitMix64) is its own, so a seed reproduces a sample on any runtime.
/// <para>
/// Nothing is allocated per token (the buffers are the sampler's), and nothing is fully sorted:
/// top-k keeps a k-entry heap over the vocabulary (O(V log k)); top-p alone pops a heap of the
/// vocabulary only until the nucleus is complete; plain temperature sampling walks the ids in
/// order. Candidates are ranked by logit, ties by id, so a seed gives the same token every time.
/// </para>
/// Not thread-safe: one sampler per session.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly int[] _heap, _picked, _penalized;
    private readonly float[] _scratch;
    private readonly double[] _probs;

    /// <summary>How often each id was produced, and the distinct ids produced (in order): only when a presence or frequency penalty is set.</summary>
    private readonly int[]? _counts, _produced;
    private int _distinct, _lastLength;
    private int _stamp;
    private ulong _rng;

    public Sampler(SamplingOptions options, int vocabSize)
    {
        options.Validate();
        _options = options;
        _heap = new int[vocabSize];
        _picked = new int[vocabSize];
        _penalized = new int[vocabSize];
        _scratch = new float[vocabSize];
        _probs = new double[vocabSize];
        _rng = options.Seed;
        if (options.PresencePenalty != 0 || options.FrequencyPenalty != 0)
        {
            _counts = new int[vocabSize];
            _produced = new int[vocabSize];
        }
    }

    /// <param name="logits">One row of logits; left unchanged.</param>
    /// <param name="history">Tokens seen so far (prompt and output), for the repetition penalty.
    /// A <see cref="List{T}"/> or an array is read without allocating.</param>
    public int Next(ReadOnlySpan<float> logits, IReadOnlyCollection<int> history) => history switch
    {
        List<int> list => Next(logits, CollectionsMarshal.AsSpan(list)),
        int[] array => Next(logits, array.AsSpan()),
        _ => Next(logits, history.ToArray().AsSpan()),
    };

    /// <inheritdoc cref="Next(ReadOnlySpan{float}, IReadOnlyCollection{int})"/>
    public int Next(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int v = logits.Length;
        if (v > _scratch.Length)
            throw new EngineException($"the logits hold {v} values, the sampler was made for a vocabulary of {_scratch.Length}");
        var z = _scratch.AsSpan(0, v);
        logits.CopyTo(z);
        _lastLength = v;
        if (_options.RepetitionPenalty != 1f)
            Penalize(z, history);
        if (_counts is null)
            return Choose(z);
        for (int i = 0; i < _distinct; i++)
        {
            int id = _produced![i];
            if (id < v)
                z[id] -= _options.PresencePenalty + _options.FrequencyPenalty * _counts[id];
        }
        int token = Choose(z);
        if (_counts[token]++ == 0)
            _produced![_distinct++] = token;
        return token;
    }

    private int Choose(Span<float> z)
    {
        int v = z.Length;
        if (_options.Temperature == 0f)
            return ArgMax(z);

        int k = _options.TopK > 0 ? Math.Min(_options.TopK, v) : v;
        if (k < v)
            return SampleRanked(z, TopK(z, k));
        if (_options.TopP < 1f)
            return SampleNucleus(z);
        return SampleAll(z);
    }

    /// <summary>
    /// The log-probability of <paramref name="token"/> in the distribution the last <see cref="Next(ReadOnlySpan{float}, ReadOnlySpan{int})"/>
    /// drew from: the softmax of its logits after the penalties, at the temperature (at 1 when greedy,
    /// whose draw has no spread), over the whole vocabulary, before top-k and top-p cut it. The
    /// <paramref name="topIds"/>.Length most likely ids go there, best first, their log-probabilities
    /// into <paramref name="topLogprobs"/>. Call it before the next draw; it allocates nothing.
    /// </summary>
    public float LogProbability(int token, Span<int> topIds, Span<float> topLogprobs)
    {
        var z = _scratch.AsSpan(0, _lastLength);
        if (_lastLength == 0 || (uint)token >= (uint)z.Length)
            throw new EngineException($"log-probability of token {token} asked before a draw over a vocabulary holding it");
        double t = _options.Temperature > 0 ? _options.Temperature : 1, max = z[ArgMax(z)], sum = 0;
        foreach (float l in z)
            sum += Math.Exp((l - max) / t);
        double logSum = Math.Log(sum);
        int k = Math.Min(topIds.Length, z.Length);
        var best = k > 0 ? TopK(z, k) : [];
        for (int i = 0; i < k; i++)
        {
            topIds[i] = best[i];
            topLogprobs[i] = (float)((z[best[i]] - max) / t - logSum);
        }
        return (float)((z[token] - max) / t - logSum);
    }

    public static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int i = 1; i < z.Length; i++)
            if (z[i] > z[best])
                best = i;
        return best;
    }

    /// <summary>Each distinct id of the history once (a stamp per id marks the ones already done).</summary>
    private void Penalize(Span<float> z, ReadOnlySpan<int> history)
    {
        if (++_stamp == int.MaxValue)
        {
            Array.Clear(_penalized);
            _stamp = 1;
        }
        float penalty = _options.RepetitionPenalty;
        foreach (int id in history)
        {
            if ((uint)id >= (uint)z.Length || _penalized[id] == _stamp)
                continue;
            _penalized[id] = _stamp;
            z[id] = z[id] > 0 ? z[id] / penalty : z[id] * penalty;
        }
    }

    /// <summary>a ranks before b: higher logit, or the same logit and a lower id.</summary>
    private static bool Before(ReadOnlySpan<float> z, int a, int b) => z[a] > z[b] || (z[a] == z[b] && a < b);

    /// <summary>The k best ids, best first, in <see cref="_picked"/>[..k].</summary>
    private Span<int> TopK(ReadOnlySpan<float> z, int k)
    {
        // A heap whose root is the worst of the k best so far.
        var heap = _heap.AsSpan(0, k);
        for (int id = 0; id < k; id++)
        {
            heap[id] = id;
            SiftUp(z, heap, id, worstFirst: true);
        }
        for (int id = k; id < z.Length; id++)
        {
            if (!Before(z, id, heap[0]))
                continue;
            heap[0] = id;
            SiftDown(z, heap, 0, k, worstFirst: true);
        }
        var picked = _picked.AsSpan(0, k);
        for (int n = k; n > 0; n--)
        {
            picked[n - 1] = heap[0];
            heap[0] = heap[n - 1];
            SiftDown(z, heap, 0, n - 1, worstFirst: true);
        }
        return picked;
    }

    /// <summary>Top-k candidates, best first: softmax over them, then top-p within them.</summary>
    private int SampleRanked(ReadOnlySpan<float> z, ReadOnlySpan<int> ranked)
    {
        double max = z[ranked[0]], sum = 0;
        int keep = ranked.Length;
        var probs = _probs.AsSpan(0, keep);
        for (int i = 0; i < keep; i++)
            sum += probs[i] = Math.Exp((z[ranked[i]] - max) / _options.Temperature);
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
        return Pick(ranked[..keep], probs[..keep], sum);
    }

    /// <summary>Top-p over the whole vocabulary: pops a heap of every id only until the nucleus holds P.</summary>
    private int SampleNucleus(ReadOnlySpan<float> z)
    {
        int v = z.Length;
        double max = z[ArgMax(z)], total = 0;
        for (int id = 0; id < v; id++)
            total += Math.Exp((z[id] - max) / _options.Temperature);
        var heap = _heap.AsSpan(0, v);
        for (int id = 0; id < v; id++)
            heap[id] = id;
        for (int i = v / 2 - 1; i >= 0; i--)
            SiftDown(z, heap, i, v, worstFirst: false);
        var probs = _probs.AsSpan();
        double cumulative = 0, sum = 0;
        int keep = 0;
        for (int n = v; n > 0;)
        {
            int id = heap[0];
            _picked[keep] = id;
            sum += probs[keep] = Math.Exp((z[id] - max) / _options.Temperature);
            keep++;
            cumulative += probs[keep - 1] / total;
            if (cumulative >= _options.TopP)
                break;
            heap[0] = heap[--n];
            SiftDown(z, heap, 0, n, worstFirst: false);
        }
        return Pick(_picked.AsSpan(0, keep), probs[..keep], sum);
    }

    /// <summary>Plain temperature sampling: the ids in order, no ranking needed.</summary>
    private int SampleAll(ReadOnlySpan<float> z)
    {
        int v = z.Length;
        double max = z[ArgMax(z)], sum = 0;
        var probs = _probs.AsSpan(0, v);
        for (int id = 0; id < v; id++)
            sum += probs[id] = Math.Exp((z[id] - max) / _options.Temperature);
        double u = NextDouble() * sum;
        for (int id = 0; id < v; id++)
        {
            u -= probs[id];
            if (u < 0)
                return id;
        }
        return v - 1;
    }

    private int Pick(ReadOnlySpan<int> ids, ReadOnlySpan<double> probs, double sum)
    {
        double u = NextDouble() * sum;
        for (int i = 0; i < ids.Length; i++)
        {
            u -= probs[i];
            if (u < 0)
                return ids[i];
        }
        return ids[^1];
    }

    /// <summary>worstFirst: the root ranks last (a min-heap of the best k); otherwise first.</summary>
    private static bool Above(ReadOnlySpan<float> z, int a, int b, bool worstFirst) => worstFirst ? Before(z, b, a) : Before(z, a, b);

    private static void SiftUp(ReadOnlySpan<float> z, Span<int> heap, int i, bool worstFirst)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Above(z, heap[i], heap[parent], worstFirst))
                return;
            (heap[i], heap[parent]) = (heap[parent], heap[i]);
            i = parent;
        }
    }

    private static void SiftDown(ReadOnlySpan<float> z, Span<int> heap, int i, int count, bool worstFirst)
    {
        while (true)
        {
            int left = 2 * i + 1, top = i;
            if (left < count && Above(z, heap[left], heap[top], worstFirst))
                top = left;
            if (left + 1 < count && Above(z, heap[left + 1], heap[top], worstFirst))
                top = left + 1;
            if (top == i)
                return;
            (heap[i], heap[top]) = (heap[top], heap[i]);
            i = top;
        }
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
