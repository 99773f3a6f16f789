namespace MatMulFree.Storage;

/// <summary>Options of one <see cref="IBlobStore.PutAsync"/>.</summary>
public sealed record PutOptions
{
    public BlobCondition Condition { get; init; } = BlobCondition.None;

    /// <summary>Bytes of the blob sent so far.</summary>
    public IProgress<long>? Progress { get; init; }
}
