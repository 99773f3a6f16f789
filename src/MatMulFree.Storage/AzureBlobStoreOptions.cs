namespace MatMulFree.Storage;

/// <summary>
/// Transfer and retry settings of <see cref="AzureBlobStore"/>. The defaults ride out a few seconds
/// of network trouble (exponential backoff 0.5 s, 1 s, 2 s, 4 s) yet report a dead store in about
/// ten seconds instead of hanging; tests that want a fast failure shorten them.
/// </summary>
public sealed record AzureBlobStoreOptions
{
    /// <summary>Retries after the first try of each request (transient errors only: 408, 429, 5xx, network).</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>First backoff delay; doubles on each retry (with jitter) up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit of one request on the wire (one block, not a whole 1 GiB upload).</summary>
    public TimeSpan NetworkTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Size of each block of an upload and of each range of a download.</summary>
    public int BlockSize { get; init; } = 8 << 20;

    /// <summary>Blocks (or ranges) in flight at once for one blob.</summary>
    public int MaxConcurrency { get; init; } = 8;
}
