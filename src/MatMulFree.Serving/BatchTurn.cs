using MatMulFree.Engine.Sampling;

namespace MatMulFree.Serving;

/// <summary>
/// One turn handed to a <see cref="ContinuousBatcher"/>. <see cref="State"/> is null when the
/// session expects the batcher to hold its state at <see cref="Version"/> already (the common case:
/// the state does not travel on every turn); the batcher answers <see cref="BatchTurnEvent.NeedState"/>
/// when it does not. <see cref="Sampling"/> carries the session's seed: the batcher derives the
/// turn's own from it and <see cref="Version"/> (<see cref="TurnSeed"/>).
/// </summary>
public sealed record BatchTurn(
    string SessionId,
    Guid Incarnation,
    int Version,
    byte[]? State,
    int[] Tokens,
    int MaxTokens,
    bool StopAtEos,
    SamplingOptions Sampling,
    int TopLogprobs = -1);

/// <summary>
/// The batcher's answer, streamed: tokens, then one final event with the state after the turn (in
/// the engine's format, for the session's durable copy) and the tokens it has absorbed; the last
/// token is not absorbed yet.
/// </summary>
public sealed record BatchTurnEvent(
    int Token,
    string? FinishReason,
    byte[]? FinalState = null,
    long StateTokens = 0,
    bool NeedState = false,
    TokenChoice? Logprobs = null)
{
    public static BatchTurnEvent MissingState { get; } = new(-1, null, NeedState: true);
}

/// <summary>A sampled token's log-probability and the most likely ids at its step, best first, with theirs (<c>Sampler.LogProbability</c>).</summary>
public sealed record TokenChoice(float Logprob, int[] TopIds, float[] TopLogprobs);
