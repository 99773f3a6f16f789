namespace MatMulFree.Storage;

/// <summary>
/// A conditional write lost: the blob changed (or appeared) since the writer read it. Raised so
/// that of two writers racing on the same pointer exactly one wins and the other knows it lost.
/// </summary>
public sealed class BlobConflictException : StoreException
{
    public BlobConflictException(string store, string path, string detail)
        : base($"conflict writing '{path}' in store {store}: {detail}")
    {
        Store = store;
        Path = path;
    }

    public BlobConflictException(string store, string path, string detail, Exception inner)
        : base($"conflict writing '{path}' in store {store}: {detail}", inner)
    {
        Store = store;
        Path = path;
    }

    public string Store { get; }
    public string Path { get; }
}
