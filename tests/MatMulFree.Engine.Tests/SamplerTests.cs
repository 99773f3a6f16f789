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
