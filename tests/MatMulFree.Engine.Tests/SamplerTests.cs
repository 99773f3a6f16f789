using MatMulFree.Engine.Sampling;

namespace MatMulFree.Engine.Tests;

public sealed class SamplerTests
{
    private static readonly float[] Logits = [0.1f, 2.0f, 1.5f, -1f, 1.9f, 0.0f];

    [Fact]
    public void Sampler_Next_GreedyPicksTheArgmax()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 0 }, Logits.Length);
        Assert.Equal(1, sampler.Next(Logits, []));
    }

    [Fact]
    public void Sampler_Next_RepetitionPenaltyMovesGreedyAway()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 0, RepetitionPenalty = 1.2f }, Logits.Length);
        Assert.Equal(4, sampler.Next(Logits, [1]));
    }

    [Fact]
    public void Sampler_Next_TopKOneIsGreedy()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 5, TopK = 1, Seed = 3 }, Logits.Length);
        for (int i = 0; i < 20; i++)
            Assert.Equal(1, sampler.Next(Logits, []));
    }

    [Fact]
    public void Sampler_Next_TopPKeepsOnlyTheNucleus()
    {
        // At temperature 1 tokens 1, 4, 2 hold ≈ 0.79 of the mass: top-p 0.7 never leaves them.
        var sampler = new Sampler(new SamplingOptions { TopP = 0.7f, Seed = 9 }, Logits.Length);
        var seen = Enumerable.Range(0, 300).Select(_ => sampler.Next(Logits, [])).ToHashSet();
        Assert.Subset(new HashSet<int> { 1, 4, 2 }, seen);
        Assert.True(seen.Count >= 2);
    }

    [Fact]
    public void Sampler_Next_SameSeedSameSequenceOtherSeedDiffers()
    {
        int[] Run(ulong seed)
        {
            var s = new Sampler(new SamplingOptions { Temperature = 1.5f, Seed = seed }, Logits.Length);
            return Enumerable.Range(0, 50).Select(_ => s.Next(Logits, [])).ToArray();
        }
        Assert.Equal(Run(42), Run(42));
        Assert.NotEqual(Run(42), Run(43));
    }

    [Theory]
    [InlineData(1, 1f)]
    [InlineData(7, 1f)]
    [InlineData(40, 0.9f)]
    [InlineData(0, 0.5f)]
    [InlineData(0, 0.95f)]
    [InlineData(999, 0.3f)]
    public void Sampler_Next_PartialSelectionPicksWhatAFullSortPicks(int topK, float topP)
    {
        // Logits with many ties (rounded to 0.25), so the id tie-break is exercised too.
        var rng = new Random(topK * 31 + (int)(topP * 100));
        var logits = Enumerable.Range(0, 500).Select(_ => MathF.Round((float)(rng.NextDouble() * 8 - 4) * 4) / 4).ToArray();
        var options = new SamplingOptions { Temperature = 0.8f, TopK = topK, TopP = topP, Seed = 11 };
        var sampler = new Sampler(options, logits.Length);
        var reference = new FullSortSampler(options);
        for (int i = 0; i < 200; i++)
            Assert.Equal(reference.Next(logits), sampler.Next(logits, []));
    }

    [Fact]
    public void Sampler_Next_TiesGoToTheLowerId()
    {
        float[] flat = [1f, 3f, 3f, 0f, 3f];
        Assert.Equal(1, new Sampler(new SamplingOptions { Temperature = 0 }, flat.Length).Next(flat, []));
        Assert.Equal(1, new Sampler(new SamplingOptions { Temperature = 1, TopK = 1 }, flat.Length).Next(flat, []));
    }

    [Fact]
    public void Sampler_Next_PlainTemperatureFollowsTheSoftmax()
    {
        // No top-k or top-p: sampled by id without ranking; frequencies must still follow softmax(z).
        var sampler = new Sampler(new SamplingOptions { Temperature = 1, Seed = 2 }, Logits.Length);
        var counts = new int[Logits.Length];
        const int draws = 20_000;
        for (int i = 0; i < draws; i++)
            counts[sampler.Next(Logits, [])]++;
        double total = Logits.Sum(z => Math.Exp(z));
        for (int id = 0; id < Logits.Length; id++)
        {
            double expected = Math.Exp(Logits[id]) / total;
            Assert.True(Math.Abs(counts[id] / (double)draws - expected) < 0.015, $"id {id}: {counts[id] / (double)draws:F3} vs {expected:F3}");
        }
    }

    [Fact]
    public void Sampler_Next_AllocatesNothingPerToken()
    {
        var rng = new Random(5);
        var logits = Enumerable.Range(0, 32000).Select(_ => (float)rng.NextDouble() * 10).ToArray();
        var history = new List<int> { 5, 17, 5, 31999 };
        foreach (var options in new[]
        {
            new SamplingOptions { Temperature = 0.7f, TopK = 40, TopP = 0.9f, RepetitionPenalty = 1.3f },
            new SamplingOptions { Temperature = 0.7f, TopP = 0.9f, RepetitionPenalty = 1.3f },
            new SamplingOptions { Temperature = 0.7f },
        })
        {
            var sampler = new Sampler(options, logits.Length);
            for (int i = 0; i < 50; i++)
                sampler.Next(logits, history);
            // A per-token allocation shows in every round; the runtime's one-off work (tiered JIT
            // promotion during a busy test run) shows in one at most.
            long quietest = long.MaxValue;
            for (int round = 0; round < 5; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 20; i++)
                    sampler.Next(logits, history);
                quietest = Math.Min(quietest, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            Assert.Equal(0, quietest);
        }
    }

    [Fact]
    public void Sampler_Next_RepetitionPenaltyCountsEachIdOnce()
    {
        // Id 1 repeated three times is divided by 1.2 once: 2.0 → 1.67, still above id 4's 1.9 / 1.2.
        float[] z = [0f, 2.0f, 0f, 0f, 1.9f];
        var sampler = new Sampler(new SamplingOptions { Temperature = 0, RepetitionPenalty = 1.2f }, z.Length);
        Assert.Equal(1, sampler.Next(z, [1, 1, 1, 4]));
    }

    /// <summary>The previous sampler, kept as the reference: a full sort by (logit desc, id asc).</summary>
    private sealed class FullSortSampler(SamplingOptions options)
    {
        private ulong _rng = options.Seed;

        public int Next(float[] z)
        {
            var order = Enumerable.Range(0, z.Length).ToArray();
            Array.Sort(order, (a, b) => z[b].CompareTo(z[a]) is var c && c != 0 ? c : a.CompareTo(b));
            int keep = options.TopK > 0 ? Math.Min(options.TopK, order.Length) : order.Length;
            double max = z[order[0]], sum = 0;
            var probs = new double[keep];
            for (int i = 0; i < keep; i++)
                sum += probs[i] = Math.Exp((z[order[i]] - max) / options.Temperature);
            if (options.TopP < 1f)
            {
                double cumulative = 0;
                for (int i = 0; i < keep; i++)
                {
                    cumulative += probs[i] / sum;
                    if (cumulative >= options.TopP)
                    {
                        keep = i + 1;
                        break;
                    }
                }
                sum = 0;
                for (int i = 0; i < keep; i++)
                    sum += probs[i];
            }
            ulong x = _rng += 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            x ^= x >> 31;
            double u = (x >> 11) * (1.0 / (1UL << 53)) * sum;
            for (int i = 0; i < keep; i++)
            {
                u -= probs[i];
                if (u < 0)
                    return order[i];
            }
            return order[keep - 1];
        }
    }

    [Theory]
    [InlineData(0.5f, 0f)]
    [InlineData(0f, 0.3f)]
    [InlineData(0.4f, 0.25f)]
    [InlineData(-0.5f, 0f)]
    public void Sampler_Next_PresenceAndFrequencyPenaltiesFollowOpenAisFormula(float presence, float frequency)
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 0, PresencePenalty = presence, FrequencyPenalty = frequency }, Logits.Length);
        var counts = new int[Logits.Length];
        var expected = new List<int>();
        var produced = new List<int>();
        for (int step = 0; step < 12; step++)
        {
            var z = Logits.Select((l, t) => l - (presence * (counts[t] > 0 ? 1 : 0) + frequency * counts[t])).ToArray();
            int want = Sampler.ArgMax(z);
            counts[want]++;
            expected.Add(want);
            produced.Add(sampler.Next(Logits, [99]));
        }
        Assert.Equal(expected, produced);
        Assert.True(presence < 0 || expected.Distinct().Count() > 1, "a positive penalty must move greedy off its first token");
    }

    [Fact]
    public void Sampler_Next_PenaltiesCountOnlyProducedTokensNotTheHistory()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 0, PresencePenalty = 2, FrequencyPenalty = 2 }, Logits.Length);
        Assert.Equal(1, sampler.Next(Logits, [1, 1, 1, 4]));
    }

    [Theory]
    [InlineData(2.5f, 0f, "--presence-penalty")]
    [InlineData(0f, -2.01f, "--frequency-penalty")]
    [InlineData(float.NaN, 0f, "--presence-penalty")]
    public void SamplingOptions_Validate_PenaltiesOutsideMinusTwoToTwo(float presence, float frequency, string flag)
    {
        var options = new SamplingOptions { PresencePenalty = presence, FrequencyPenalty = frequency };
        Assert.Contains(flag, Assert.Throws<EngineException>(options.Validate).Message);
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(1f)]
    [InlineData(0f)]
    public void Sampler_LogProbability_IsTheLogSoftmaxOfThePenalizedLogitsAtTheTemperature(float temperature)
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = temperature, PresencePenalty = 1f, Seed = 4 }, Logits.Length);
        int first = sampler.Next(Logits, []);
        int token = sampler.Next(Logits, []);
        var ids = new int[3];
        var top = new float[3];

        float logprob = sampler.LogProbability(token, ids, top);

        double t = temperature > 0 ? temperature : 1;
        var z = Logits.Select((l, i) => (l - (i == first ? 1.0 : 0.0)) / t).ToArray();
        double logSum = Math.Log(z.Sum(Math.Exp));
        Assert.Equal(z[token] - logSum, logprob, 5);
        var ranked = Enumerable.Range(0, z.Length).OrderByDescending(i => z[i]).ThenBy(i => i).Take(3).ToArray();
        Assert.Equal(ranked, ids);
        for (int i = 0; i < 3; i++)
            Assert.Equal(z[ranked[i]] - logSum, top[i], 5);
    }

    [Fact]
    public void SamplingOptions_Validate_NamesTheFlag()
    {
        Assert.Contains("--top-p", Assert.Throws<EngineException>(() => new SamplingOptions { TopP = 0 }.Validate()).Message);
        Assert.Contains("--temperature", Assert.Throws<EngineException>(() => new SamplingOptions { Temperature = -1 }.Validate()).Message);
    }

    [Fact]
    public void TokenGenerator_Generate_StopsAtMaxTokensAndStopTokens()
    {
        var set = GoldenSet.Load("tiny");
        using var engine = new InferenceEngine(set.Model);
        var prompt = set.Row(0)[..4];
        var greedy = TokenGenerator.Generate(engine, engine.CreateState(), prompt, new SamplingOptions { Temperature = 0, MaxTokens = 6 }).ToList();
        Assert.Equal(6, greedy.Count);
        var stopped = TokenGenerator.Generate(engine, engine.CreateState(), prompt,
            new SamplingOptions { Temperature = 0, MaxTokens = 6, StopTokens = [greedy[2]] }).ToList();
        Assert.Equal(greedy.TakeWhile(t => t != greedy[2]).ToList(), stopped);
        var again = TokenGenerator.Generate(engine, engine.CreateState(), prompt, new SamplingOptions { Temperature = 0.9f, Seed = 5, MaxTokens = 6 }).ToList();
        var again2 = TokenGenerator.Generate(engine, engine.CreateState(), prompt, new SamplingOptions { Temperature = 0.9f, Seed = 5, MaxTokens = 6 }).ToList();
        Assert.Equal(again, again2);
    }
}
