using System.Text;

namespace MatMulFree.Storage;

/// <summary>
/// Reads snapshots back: the manifest, the files (each hashed on the way down and refused on a
/// mismatch), and <c>verify</c>, which re-hashes every file in the store without keeping it.
/// </summary>
public static class SnapshotReader
{
    private const string PartialSuffix = ".mmf-partial";

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
    /// Downloads every file of <paramref name="manifest"/> into <paramref name="destination"/>, then
    /// writes the manifest beside them. A file appears under its name only once its bytes matched.
    /// </summary>
    public static async Task DownloadAsync(
        IBlobStore store, string prefix, Manifest manifest, string destination, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(destination);
        var root = Path.GetFullPath(destination);
        foreach (var file in manifest.Files)
        {
            var blobPath = $"{prefix}/{file.Path}";
            var target = Path.GetFullPath(Path.Combine(root, file.Path));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var partial = target + PartialSuffix;
            try
            {
                string sha;
                long size;
                await using (var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
                await using (var hashing = HashingStream.ForWriting(output))
                {
                    var perFile = progress is null ? null : new Progress<long>(done => progress.Report(new TransferProgress(file.Path, done, file.Size)));
                    await store.DownloadAsync(blobPath, hashing, perFile, cancellationToken);
                    sha = hashing.Sha256Hex();
                    size = hashing.BytesHashed;
                }
                var check = Compare(file, size, sha);
                if (!check.IsOk) throw new BlobIntegrityException(store.Location, blobPath, check.Describe());
                File.Move(partial, target, overwrite: true);
                progress?.Report(new TransferProgress(file.Path, file.Size, file.Size));
            }
            finally
            {
                if (File.Exists(partial)) File.Delete(partial);
            }
        }
        await File.WriteAllTextAsync(Path.Combine(root, StoreLayout.ManifestFile), manifest.ToJson(), cancellationToken);
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
            checks.Add(Compare(file, hashing.BytesHashed, hashing.Sha256Hex()));
        }
        present.Remove(StoreLayout.ManifestFile);
        present.Remove(StoreLayout.ClaimFile);
        checks.AddRange(present.Values.Select(b => new FileCheck(b.Path[(prefix.Length + 1)..], FileCheckStatus.NotInManifest, 0, b.Length, null, null)));
        return checks;
    }

    private static FileCheck Compare(ManifestEntry file, long size, string sha) =>
        size != file.Size ? new FileCheck(file.Path, FileCheckStatus.SizeMismatch, file.Size, size, file.Sha256, sha)
        : sha != file.Sha256 ? new FileCheck(file.Path, FileCheckStatus.HashMismatch, file.Size, size, file.Sha256, sha)
        : new FileCheck(file.Path, FileCheckStatus.Ok, file.Size, size, file.Sha256, sha);
}
