namespace MatMulFree.Storage;

/// <summary>Progress of one file of a snapshot transfer.</summary>
public readonly record struct TransferProgress(string Path, long BytesDone, long TotalBytes);
