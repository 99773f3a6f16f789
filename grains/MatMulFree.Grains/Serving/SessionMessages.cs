namespace MatMulFree.Grains.Serving;

/// <summary>What a new session is: its model, owner (an API key's id, or "anonymous") and sampling.</summary>
[GenerateSerializer, Immutable]
public sealed record SessionSpec(
    [property: Id(0)] string Model,
    [property: Id(1)] string Owner,
    [property: Id(2)] SamplingSettings Sampling,
    [property: Id(3)] bool Ephemeral = false);

/// <summary>
/// One turn: the new message's token ids only (the earlier conversation is already in the state),
/// at most <see cref="MaxTokens"/> generated tokens; generation stops early at EOS when asked.
/// <see cref="TopLogprobs"/> ≥ 0 asks for each token's log-probability and that many alternatives; −1 for none.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TurnInput(
    [property: Id(0)] int[] Tokens,
    [property: Id(1)] int MaxTokens,
    [property: Id(2)] bool StopAtEos = true,
    [property: Id(3)] int TopLogprobs = -1);

/// <summary>One generated token; the last one of a turn carries why the turn ended ("length" or "stop").</summary>
[GenerateSerializer, Immutable]
public sealed record TurnEvent(
    [property: Id(0)] int Token,
    [property: Id(1)] string? FinishReason,
    [property: Id(2)] TokenLogprobs? Logprobs = null);

/// <summary>A generated token's log-probability and the most likely ids at its step, best first, with theirs (<c>Sampler.LogProbability</c>).</summary>
[GenerateSerializer, Immutable]
public sealed record TokenLogprobs(
    [property: Id(0)] float Logprob,
    [property: Id(1)] int[] TopIds,
    [property: Id(2)] float[] TopLogprobs);

/// <summary>A session as the API shows it: no state bytes, only their size; where it is active and which backend it last used.</summary>
[GenerateSerializer, Immutable]
public sealed record SessionInfo(
    [property: Id(0)] string Id,
    [property: Id(1)] string Model,
    // For the API's ownership check only: an owner id is a hash of an API key, never shown.
    [property: Id(2), System.Text.Json.Serialization.JsonIgnore] string Owner,
    [property: Id(3)] SamplingSettings Sampling,
    [property: Id(4)] long Tokens,
    [property: Id(5)] int Turns,
    [property: Id(6)] int StateBytes,
    [property: Id(7)] DateTimeOffset Created,
    [property: Id(8)] DateTimeOffset Updated,
    [property: Id(9)] string? Backend,
    [property: Id(10)] string? Silo);
