namespace MatMulFree.Storage;

/// <summary>A file to upload into a snapshot: its path inside the snapshot, its length, and how to read it.</summary>
public sealed record SnapshotFile(string Path, long Length, Func<Stream> Open)
{
    /// <summary>Every file under <paramref name="directory"/> (recursively) except a manifest.json at its top.</summary>
    public static IReadOnlyList<SnapshotFile> FromDirectory(string directory)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"folder '{directory}' does not exist");
        return new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories)
            .Select(f => (Info: f, Relative: System.IO.Path.GetRelativePath(directory, f.FullName).Replace(System.IO.Path.DirectorySeparatorChar, '/')))
            .Where(f => f.Relative != StoreLayout.ManifestFile && !f.Relative.Split('/').Any(s => s.StartsWith(BlobPath.ReservedPrefix, StringComparison.Ordinal)))
            .OrderBy(f => f.Relative, StringComparer.Ordinal)
            .Select(f => FromFile(f.Relative, f.Info.FullName))
            .ToList();
    }

    /// <summary>
    /// One local file. A symbolic link counts as the file it points to (Hugging Face cache folders
    /// are links into a blob folder): a link's own length is that of its target's path.
    /// </summary>
    public static SnapshotFile FromFile(string path, string localFile)
    {
        var info = new FileInfo(localFile);
        if (info.LinkTarget is not null)
        {
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            if (target is not FileInfo { Exists: true } file)
                throw new StoreException($"'{localFile}' is a link to '{info.LinkTarget}', which is not a file");
            info = file;
        }
        return new(path, info.Length, () => new FileStream(localFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan));
    }

    public static SnapshotFile FromBytes(string path, byte[] bytes) => new(path, bytes.Length, () => new MemoryStream(bytes, writable: false));
}
