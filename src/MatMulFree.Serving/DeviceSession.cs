namespace MatMulFree.Serving;

/// <summary>
/// A session state resident on a device, named by a number the device chose (a uint64 on the
/// wire): batches carry handles, not states, so a step message stays small.
/// </summary>
public readonly record struct DeviceSession(ulong Id)
{
    public override string ToString() => $"device session {Id}";
}

/// <summary>A session's state in the engine's format and the tokens it has absorbed (the state header holds them too).</summary>
public sealed record ExportedState(byte[] Bytes, long Tokens);
