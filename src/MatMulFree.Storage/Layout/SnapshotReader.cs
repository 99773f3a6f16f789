using System.Text;

namespace MatMulFree.Storage;

/// <summary>
/// Reads snapshots back: the manifest, the files (each hashed on the way down and refused on a
/// mismatch), and <c>verify</c>, which re-hashes every file in the store without keeping it.
/// </summary>
public static class SnapshotReader
{
    /// <summary>The snapshot's manifest, or null when there is none (the snapshot does not exist).</summary>
    public static async Task<Manifest?> ReadManifestAsync(IBlobStore store, string prefix, CancellationToken cancellationToken)
    {
        var path = StoreLayout.Manifest(prefix);
        try
        {
            await using var stream = await store.OpenReadAsync(path, cancellationToken: cancellationToken);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return Manifest.Parse(await reader.ReadToEndAsync(cancellationToken), $"{store.Location}/{path}");
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Prefixes of every snapshot (every manifest.json) under <paramref name="prefix"/>, in path order.</summary>
    public static async Task<IReadOnlyList<string>> FindAsync(IBlobStore store, string prefix, CancellationToken cancellationToken)
    {
        var snapshots = new List<string>();
        await foreach (var blob in store.ListAsync(prefix, cancellationToken))
            if (blob.Path.EndsWith("/" + StoreLayout.ManifestFile, StringComparison.Ordinal))
                snapshots.Add(blob.Path[..^(StoreLayout.ManifestFile.Length + 1)]);
        return snapshots;
    }

    /// <summary>
    /// Downloads every file of <paramref name="manifest"/> into <paramref name="destination"/>, with
    /// the manifest beside them. All or nothing: the files are staged in a hidden folder inside
    /// <paramref name="destination"/> and moved into place only once every one matched, so a failed
    /// download changes no file there (and removes <paramref name="destination"/> if it created it).
    /// </summary>
    public static async Task DownloadAsync(
        IBlobStore store, string prefix, Manifest manifest, string destination, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(destination);
        bool created = !Directory.Exists(root);
        try
        {
            Directory.CreateDirectory(root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreLocationException($"cannot download into '{destination}': {e.Message}", e);
        }
        // Inside the destination, so that the final moves are renames on one file system; the
        // reserved prefix keeps the name out of any manifest's paths.
        var staging = Path.Combine(root, $"{BlobPath.ReservedPrefix}partial-{Guid.NewGuid():N}");
        try
        {
            foreach (var file in manifest.Files)
                await DownloadFileAsync(store, $"{prefix}/{file.Path}", file, Path.Combine(staging, file.Path), progress, cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(staging, StoreLayout.ManifestFile), manifest.ToJson(), cancellationToken);
            foreach (var path in manifest.Files.Select(f => f.Path).Append(StoreLayout.ManifestFile))
            {
                var target = Path.Combine(root, path);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Move(Path.Combine(staging, path), target, overwrite: true);
            }
        }
        catch when (created)
        {
            Directory.Delete(root, recursive: true);
            throw;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private static async Task DownloadFileAsync(
        IBlobStore store, string blobPath, ManifestEntry file, string target, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        string sha;
        long size;
        await using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
        await using (var hashing = HashingStream.ForWriting(output))
        {
            var perFile = progress is null ? null : new Progress<long>(done => progress.Report(new TransferProgress(file.Path, done, file.Size)));
            await store.DownloadAsync(blobPath, hashing, perFile, cancellationToken);
            sha = hashing.Sha256Hex();
            size = hashing.BytesHashed;
        }
        var check = FileCheck.Compare(file, size, sha);
        if (!check.IsOk) throw new BlobIntegrityException(store.Location, blobPath, check.Describe());
        progress?.Report(new TransferProgress(file.Path, file.Size, file.Size));
    }

    /// <summary>Re-hashes every file of the snapshot in the store; also reports files the manifest does not list.</summary>
    public static async Task<IReadOnlyList<FileCheck>> VerifyAsync(
        IBlobStore store, string prefix, Manifest manifest, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var checks = new List<FileCheck>();
        var present = new Dictionary<string, StoredBlob>(StringComparer.Ordinal);
        await foreach (var blob in store.ListAsync(prefix + "/", cancellationToken))
            present[blob.Path[(prefix.Length + 1)..]] = blob;
        foreach (var file in manifest.Files)
        {
            if (!present.Remove(file.Path, out var blob))
            {
                checks.Add(new FileCheck(file.Path, FileCheckStatus.Missing, file.Size, null, file.Sha256, null));
                continue;
            }
            if (blob.Length != file.Size)
            {
                checks.Add(new FileCheck(file.Path, FileCheckStatus.SizeMismatch, file.Size, blob.Length, file.Sha256, null));
                continue;
            }
            await using var hashing = HashingStream.ForWriting(Stream.Null);
            var perFile = progress is null ? null : new Progress<long>(done => progress.Report(new TransferProgress(file.Path, done, file.Size)));
            await store.DownloadAsync($"{prefix}/{file.Path}", hashing, perFile, cancellationToken);
            checks.Add(FileCheck.Compare(file, hashing.BytesHashed, hashing.Sha256Hex()));
        }
        present.Remove(StoreLayout.ManifestFile);
        present.Remove(StoreLayout.ClaimFile);
        checks.AddRange(present.Values.Select(b => new FileCheck(b.Path[(prefix.Length + 1)..], FileCheckStatus.NotInManifest, 0, b.Length, null, null)));
        return checks;
    }
}
