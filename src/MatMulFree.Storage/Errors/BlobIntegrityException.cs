namespace MatMulFree.Storage;

/// <summary>
/// A blob's bytes do not match its manifest (size or SHA-256): it was changed or truncated after
/// upload. Loading refuses such a blob rather than hand out a silently bad model.
/// </summary>
public sealed class BlobIntegrityException : StoreException
{
    public BlobIntegrityException(string store, string path, string detail)
        : base($"integrity check failed for '{path}' in store {store}: {detail}")
    {
        Store = store;
        Path = path;
    }

    public string Store { get; }
    public string Path { get; }
}
