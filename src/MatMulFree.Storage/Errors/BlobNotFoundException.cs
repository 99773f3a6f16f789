namespace MatMulFree.Storage;

/// <summary>A blob (or a model version, a checkpoint) that the caller asked for is not in the store.</summary>
public sealed class BlobNotFoundException : StoreException
{
    public BlobNotFoundException(string store, string path)
        : base($"'{path}' was not found in store {store}")
    {
        Store = store;
        Path = path;
    }

    public BlobNotFoundException(string store, string path, string message) : base(message)
    {
        Store = store;
        Path = path;
    }

    public string Store { get; }
    public string Path { get; }
}
