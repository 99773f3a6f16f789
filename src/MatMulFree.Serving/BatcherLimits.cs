namespace MatMulFree.Serving;

/// <summary>
/// Bounds of one batcher: sessions stepped together (at most the device's batch), turns allowed to
/// wait for a slot (beyond that new turns are refused with a retryable error rather than queued
/// without limit), and states kept on the device between turns.
/// </summary>
public sealed record BatcherLimits(int MaxBatch = 64, int MaxQueue = 256, int MaxCachedStates = 1024)
{
    public void Validate()
    {
        if (MaxBatch < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatch), MaxBatch, "max batch must be at least 1");
        if (MaxQueue < 0) throw new ArgumentOutOfRangeException(nameof(MaxQueue), MaxQueue, "max queue must be at least 0");
        if (MaxCachedStates < 1) throw new ArgumentOutOfRangeException(nameof(MaxCachedStates), MaxCachedStates, "max cached states must be at least 1");
    }
}
