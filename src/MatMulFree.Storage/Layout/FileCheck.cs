namespace MatMulFree.Storage;

public enum FileCheckStatus { Ok, Missing, SizeMismatch, HashMismatch, NotInManifest }

/// <summary>What <c>verify</c> found for one file of a snapshot.</summary>
public sealed record FileCheck(string Path, FileCheckStatus Status, long ExpectedSize, long? ActualSize, string? ExpectedSha256, string? ActualSha256)
{
    /// <summary>A stray file is reported but does not make a snapshot bad: every listed byte is still right.</summary>
    public bool IsOk => Status is FileCheckStatus.Ok or FileCheckStatus.NotInManifest;

    /// <summary>What a file of <paramref name="size"/> bytes hashing to <paramref name="sha"/> is, against its manifest entry.</summary>
    internal static FileCheck Compare(ManifestEntry file, long size, string sha) =>
        size != file.Size ? new FileCheck(file.Path, FileCheckStatus.SizeMismatch, file.Size, size, file.Sha256, sha)
        : sha != file.Sha256 ? new FileCheck(file.Path, FileCheckStatus.HashMismatch, file.Size, size, file.Sha256, sha)
        : new FileCheck(file.Path, FileCheckStatus.Ok, file.Size, size, file.Sha256, sha);

    public string Describe() => Status switch
    {
        FileCheckStatus.Ok => "ok",
        FileCheckStatus.Missing => "missing",
        FileCheckStatus.SizeMismatch => $"size {ActualSize} but the manifest says {ExpectedSize}",
        FileCheckStatus.HashMismatch => $"SHA-256 {ActualSha256} but the manifest says {ExpectedSha256}",
        _ => "present but not in the manifest",
    };
}
