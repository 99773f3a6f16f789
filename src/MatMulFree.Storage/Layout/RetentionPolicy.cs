namespace MatMulFree.Storage;

/// <summary>
/// Which checkpoints of a run to keep: the last <see cref="KeepLast"/> by step, plus (when
/// <see cref="KeepBest"/>) the one with the lowest validation loss. The one <c>latest</c> points at
/// is always kept.
/// </summary>
public sealed record RetentionPolicy(int KeepLast, bool KeepBest = true)
{
    public int KeepLast { get; } = KeepLast >= 1 ? KeepLast
        : throw new StoreLocationException($"retention must keep at least the last 1 checkpoint, got {KeepLast}");
}
