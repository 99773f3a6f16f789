namespace MatMulFree.Serving;

/// <summary>Bounds of a device: sessions advanced by one <see cref="IDecodeDevice.Decode"/> call, and session states it can hold at once.</summary>
public sealed record DeviceCapacity(int MaxBatch, int MaxSessions);

public enum DeviceStatus
{
    /// <summary>No model loaded yet.</summary>
    Unloaded,
    Ready,
    /// <summary>The last step failed for a reason that was not the request's (the detail says which); the router should avoid it.</summary>
    Faulted,
    Disposed,
}

public sealed record DeviceHealth(DeviceStatus Status, string Detail)
{
    public bool Ready => Status == DeviceStatus.Ready;
}

/// <summary>
/// Work done since the device started: tokens absorbed (prompt and decode tokens alike), batched
/// decode steps, time spent inside prefill and decode calls, and energy in joules where the device
/// can measure or model it (null for the CPU device: it has no meter to read).
/// </summary>
public sealed record DeviceCounters(long Tokens, long Steps, TimeSpan BusyTime, double? Joules);
