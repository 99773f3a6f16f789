namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// What a compute backend offers: the model it serves (and that model's identity, so states are
/// never mixed across models), its batch and queue limits, the kind of device, and a relative cost
/// per token the router may weigh (CPU = 1), and which of its silo's devices it runs on
/// (<see cref="BackendKey.LocalDevice"/> or a remote node's name).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record BackendCapabilities(
    [property: Id(0)] string Model,
    [property: Id(1)] string ModelIdentity,
    [property: Id(2)] int VocabSize,
    [property: Id(3)] int MaxBatch,
    [property: Id(4)] int MaxQueue,
    [property: Id(5)] string DeviceKind,
    [property: Id(6)] double Cost,
    [property: Id(7)] string Device = BackendKey.LocalDevice);

/// <summary>A backend's registration and heartbeat: capabilities plus current load.</summary>
[GenerateSerializer, Immutable]
public sealed record BackendInfo(
    [property: Id(0)] string Key,
    [property: Id(1)] BackendCapabilities Capabilities,
    [property: Id(2)] int Active,
    [property: Id(3)] int Queued,
    [property: Id(4)] DateTimeOffset Seen)
{
    /// <summary>Sessions in flight per batch slot: above 1 the backend is queueing.</summary>
    public double Load => (Active + Queued) / (double)Math.Max(1, Capabilities.MaxBatch);

    public bool Saturated => Active >= Capabilities.MaxBatch && Queued >= Capabilities.MaxQueue;
}

/// <summary>
/// One turn handed to a backend. <see cref="State"/> is null when the session expects the backend
/// to hold its state at <see cref="Version"/> already (the common case: the state does not travel
/// on every turn); the backend answers <see cref="BackendEvent.NeedState"/> when it does not.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record BackendTurn(
    [property: Id(0)] string SessionId,
    [property: Id(1)] Guid Incarnation,
    [property: Id(2)] int Version,
    [property: Id(3)] byte[]? State,
    [property: Id(4)] int[] Tokens,
    [property: Id(5)] int MaxTokens,
    [property: Id(6)] bool StopAtEos,
    [property: Id(7)] SamplingSettings Sampling,
    [property: Id(8)] int TopLogprobs = -1);

/// <summary>
/// A backend's answer, streamed: tokens, then one final event with the state after the turn
/// (serialized, for the session's durable copy) and the token it did not absorb yet.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record BackendEvent(
    [property: Id(0)] int Token,
    [property: Id(1)] string? FinishReason,
    [property: Id(2)] byte[]? FinalState = null,
    [property: Id(3)] long StateTokens = 0,
    [property: Id(4)] bool NeedState = false,
    [property: Id(5)] TokenLogprobs? Logprobs = null)
{
    public static BackendEvent MissingState { get; } = new(-1, null, NeedState: true);
}
