using System.Text;

namespace MatMulFree.Storage;

/// <summary>
/// Uploads a set of files under a prefix and then, last, its manifest (only if absent): until the
/// manifest lands the snapshot does not exist, so a crash or a cancellation half-way leaves
/// debris that nothing reads, never a half snapshot that looks whole.
/// </summary>
internal static class SnapshotWriter
{
    public static async Task<Manifest> WriteAsync(
        IBlobStore store, string prefix, IReadOnlyList<SnapshotFile> files, Func<IReadOnlyList<ManifestEntry>, Manifest> describe,
        IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var duplicate = files.GroupBy(f => f.Path, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new StoreLocationException($"snapshot {prefix} lists '{duplicate.Key}' twice");
        var entries = new List<ManifestEntry>(files.Count);
        foreach (var file in files)
        {
            if (file.Path == StoreLayout.ManifestFile) throw new StoreLocationException($"snapshot {prefix}: '{StoreLayout.ManifestFile}' is written by the store itself");
            var path = BlobPath.Validate($"{prefix}/{file.Path}");
            await using var source = file.Open();
            // Hash while uploading: one pass over a GB-sized file, not two.
            await using var hashing = HashingStream.ForReading(source);
            var perFile = progress is null ? null : new Progress<long>(done => progress.Report(new TransferProgress(file.Path, done, file.Length)));
            await store.PutAsync(path, hashing, new PutOptions { Progress = perFile }, cancellationToken);
            if (hashing.BytesHashed != file.Length)
                throw new StoreException($"'{file.Path}' changed while it was uploaded to {store.Location}/{prefix}: {hashing.BytesHashed} bytes read, {file.Length} expected");
            entries.Add(new ManifestEntry(file.Path, hashing.BytesHashed, hashing.Sha256Hex()));
            progress?.Report(new TransferProgress(file.Path, file.Length, file.Length));
        }
        var manifest = describe(entries);
        await using var json = new MemoryStream(Encoding.UTF8.GetBytes(manifest.ToJson()));
        await store.PutAsync(StoreLayout.Manifest(prefix), json, new PutOptions { Condition = BlobCondition.IfNotExists }, cancellationToken);
        return manifest;
    }
}
