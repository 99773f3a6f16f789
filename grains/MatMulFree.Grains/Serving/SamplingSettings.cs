using MatMulFree.Engine.Sampling;

namespace MatMulFree.Grains.Serving;

/// <summary>
/// How a session picks its next token. Temperature 0 is greedy; <see cref="Seed"/> makes every
/// draw reproducible: turn n of a session draws from a generator seeded by (Seed, n) alone, so
/// the same session gives the same tokens on any silo and after any failover.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SamplingSettings(
    [property: Id(0)] float Temperature = 0f,
    [property: Id(1)] int TopK = 0,
    [property: Id(2)] float TopP = 1f,
    [property: Id(3)] ulong Seed = 0,
    [property: Id(4)] float PresencePenalty = 0f,
    [property: Id(5)] float FrequencyPenalty = 0f)
{
    public static SamplingSettings Greedy { get; } = new();

    /// <summary>The engine's options for turn <paramref name="turn"/>; invalid values throw the engine's bad-input error.</summary>
    public SamplingOptions ForTurn(long turn, int maxTokens)
    {
        var options = SessionOptions(maxTokens) with { Seed = TurnSeed(turn) };
        options.Validate();
        return options;
    }

    /// <summary>The engine's options with the session's own seed: the batcher derives each turn's from it (<see cref="MatMulFree.Serving.TurnSeed"/>).</summary>
    public SamplingOptions SessionOptions(int maxTokens) => new()
    {
        Temperature = Temperature, TopK = TopK, TopP = TopP, PresencePenalty = PresencePenalty, FrequencyPenalty = FrequencyPenalty,
        MaxTokens = maxTokens, Seed = Seed,
    };

    /// <summary>The generator seed of one turn: SplitMix64 of (Seed, turn), stable across processes (unlike HashCode).</summary>
    public ulong TurnSeed(long turn) => MatMulFree.Serving.TurnSeed.For(Seed, turn);
}
