namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// Bounds of one backend: sessions stepped together (the engine's batch), turns allowed to wait
/// for a slot (beyond that new turns are refused with a retryable error rather than queued without
/// limit), and states kept in memory between turns.
/// </summary>
public sealed record BackendLimits(int MaxBatch = 64, int MaxQueue = 256, int MaxCachedStates = 1024)
{
    public void Validate()
    {
        if (MaxBatch < 1) throw new ServingRequestException($"max batch must be at least 1, got {MaxBatch}");
        if (MaxQueue < 0) throw new ServingRequestException($"max queue must be at least 0, got {MaxQueue}");
        if (MaxCachedStates < 1) throw new ServingRequestException($"max cached states must be at least 1, got {MaxCachedStates}");
    }
}
