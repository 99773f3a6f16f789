namespace MatMulFree.Storage;

/// <summary>
/// The small surface everything above (models, checkpoints, the CLI) needs from a blob store.
/// Paths are '/'-separated, relative to the store's root, and never start with '/'.
/// Implementations: <see cref="LocalFolderBlobStore"/> (file://, the default) and
/// <see cref="AzureBlobStore"/> (Azure Blob Storage, Azurite).
/// </summary>
public interface IBlobStore
{
    /// <summary>Where the store is, for messages (never contains credentials).</summary>
    string Location { get; }

    /// <summary>The blob's properties, or null when it does not exist.</summary>
    Task<StoredBlob?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes the whole blob from <paramref name="content"/> (read sequentially to its end). The
    /// blob appears all at once or not at all; <see cref="BlobCondition"/> makes the write a
    /// compare-and-swap that throws <see cref="BlobConflictException"/> when it loses.
    /// </summary>
    Task<StoredBlob> PutAsync(string path, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>A read stream over [offset, offset + length) of the blob (to its end when length is null).</summary>
    Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Copies the whole blob into <paramref name="destination"/>, written sequentially (Azure fetches
    /// ranges in parallel and writes them in order), reporting bytes done.
    /// </summary>
    Task<StoredBlob> DownloadAsync(string path, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Every blob whose path starts with <paramref name="prefix"/>, in ordinal path order.</summary>
    IAsyncEnumerable<StoredBlob> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes the blob; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string path, CancellationToken cancellationToken = default);
}
