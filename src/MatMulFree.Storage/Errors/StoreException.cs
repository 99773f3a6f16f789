using MatMulFree.Core;

namespace MatMulFree.Storage;

/// <summary>
/// Base of every blob-store error: the message names the store and the blob (or URI) at fault.
/// </summary>
public class StoreException : MatMulFreeException
{
    public StoreException(string message) : base(message) { }
    public StoreException(string message, Exception inner) : base(message, inner) { }
}
