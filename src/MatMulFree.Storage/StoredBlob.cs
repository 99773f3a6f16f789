namespace MatMulFree.Storage;

/// <summary>
/// A blob as the store sees it. <see cref="ETag"/> changes on every write of the blob and is what
/// <see cref="BlobCondition.IfMatch"/> compares against.
/// </summary>
public sealed record StoredBlob(string Path, long Length, string ETag, DateTimeOffset LastModified);
