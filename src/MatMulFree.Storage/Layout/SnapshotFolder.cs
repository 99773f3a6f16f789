using System.Security.Cryptography;

namespace MatMulFree.Storage;

/// <summary>A snapshot already downloaded into a local folder, checked against its manifest.</summary>
public static class SnapshotFolder
{
    /// <summary>
    /// Re-hashes every file of <paramref name="manifest"/> in <paramref name="folder"/>; files the
    /// manifest does not list are reported too (the manifest.json beside them excepted).
    /// </summary>
    public static async Task<IReadOnlyList<FileCheck>> VerifyAsync(string folder, Manifest manifest, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(folder);
        var present = new HashSet<string>(
            Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/')),
            StringComparer.Ordinal);
        var checks = new List<FileCheck>();
        foreach (var file in manifest.Files)
        {
            if (!present.Remove(file.Path))
            {
                checks.Add(new FileCheck(file.Path, FileCheckStatus.Missing, file.Size, null, file.Sha256, null));
                continue;
            }
            var local = Path.Combine(root, file.Path);
            long size = new FileInfo(local).Length;
            if (size != file.Size)
            {
                checks.Add(new FileCheck(file.Path, FileCheckStatus.SizeMismatch, file.Size, size, file.Sha256, null));
                continue;
            }
            await using var stream = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
            checks.Add(FileCheck.Compare(file, size, Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken))));
        }
        present.Remove(StoreLayout.ManifestFile);
        checks.AddRange(present.Order(StringComparer.Ordinal).Select(p => new FileCheck(p, FileCheckStatus.NotInManifest, 0, new FileInfo(Path.Combine(root, p)).Length, null, null)));
        return checks;
    }
}
