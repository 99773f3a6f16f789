namespace MatMulFree.Serving;

/// <summary>
/// One compute device seen one step at a time: it holds session states (in the engine's state
/// format, <c>RecurrentState.Serialize</c>, so they move between devices of any kind), absorbs
/// prompts and advances a batch of sessions by one token, returning logits. Batching, sampling and
/// caching live above it, in <see cref="ContinuousBatcher"/>, so a GPU, an FPGA emulator or a
/// remote node implements only this. Every call names sessions by handle and carries a whole
/// batch, so each maps onto one message of a node protocol.
/// </summary>
/// <remarks>
/// Calls come from one driver thread at a time (the batcher's); implementations need not be
/// reentrant but must not assume which thread. Bad input raises <see cref="DeviceRequestException"/>
/// with its <see cref="DeviceFault"/> and leaves every other session as it was; a device that
/// cannot serve raises <see cref="DeviceUnavailableException"/>.
/// </remarks>
public interface IDecodeDevice : IDisposable
{
    /// <summary>"cpu", "gpu", "fpga", …: what the router and the metrics call it.</summary>
    string Kind { get; }

    /// <summary>The loaded model; null until <see cref="LoadAsync"/> has succeeded.</summary>
    DeviceModel? Model { get; }

    DeviceCapacity Capacity { get; }

    DeviceHealth Health { get; }

    DeviceCounters Counters { get; }

    /// <summary>Loads the model; sessions of a previously loaded model are dropped.</summary>
    /// <exception cref="DeviceRequestException">The source cannot be read or fails its checksum (<see cref="DeviceFault.BadModel"/>).</exception>
    Task<DeviceModel> LoadAsync(ModelSource source, CancellationToken cancellationToken = default);

    /// <summary>A fresh session at the model's initial state (no tokens absorbed).</summary>
    DeviceSession CreateSession();

    /// <summary>A session from state bytes in the engine's format (another device's export, or a session's durable copy).</summary>
    DeviceSession ImportSession(ReadOnlySpan<byte> state);

    /// <summary>The session's state in the engine's format, and how many tokens it has absorbed.</summary>
    ExportedState ExportSession(DeviceSession session);

    /// <summary>A second session with the same state: a turn works on a copy so a failed turn leaves the original.</summary>
    DeviceSession CopySession(DeviceSession session);

    void DropSession(DeviceSession session);

    /// <summary>
    /// Absorbs prompt i into session i (each at least one token) and writes the logits after its
    /// last token to row i of <paramref name="logits"/> ([N, V]).
    /// </summary>
    void Prefill(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int[]> prompts, Span<float> logits);

    /// <summary>
    /// Advances N distinct sessions by one token each; row i of <paramref name="logits"/> ([N, V])
    /// belongs to session i and must not depend on the other rows (batch invariance).
    /// </summary>
    void Decode(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits);
}
