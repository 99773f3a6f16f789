namespace MatMulFree.Storage;

/// <summary>One file of a snapshot: its path relative to the snapshot, size in bytes, lowercase hex SHA-256.</summary>
public sealed record ManifestEntry(string Path, long Size, string Sha256);
