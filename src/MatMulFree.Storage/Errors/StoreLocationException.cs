namespace MatMulFree.Storage;

/// <summary>A store URI, connection string, blob path or model/run name that cannot be used.</summary>
public sealed class StoreLocationException : StoreException
{
    public StoreLocationException(string message) : base(message) { }
    public StoreLocationException(string message, Exception inner) : base(message, inner) { }
}
