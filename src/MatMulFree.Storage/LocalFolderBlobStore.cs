using System.Runtime.CompilerServices;

namespace MatMulFree.Storage;

/// <summary>
/// A blob store in a local folder: blob "a/b" is the file ROOT/a/b. The embedded default when no
/// store is configured, and the one a single machine needs.
/// </summary>
/// <remarks>
/// A write goes to a temp file under ROOT/.mmf-tmp and is renamed into place, so readers see the
/// old blob or the new one, never half of one. The rename (and the ETag compare before it) happen
/// under one store-wide lock file (an exclusive <see cref="FileShare.None"/> open, which .NET maps
/// to flock on Unix), so of two compare-and-swap writers, in this process or another, exactly one
/// wins. The ETag is the file's mtime and length; the lock also makes every commit move the mtime
/// strictly forward, so two writes within one clock tick still get different ETags.
/// </remarks>
public sealed class LocalFolderBlobStore : IBlobStore
{
    private const int BufferSize = 1 << 20;
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(60);

    private readonly string root;

    public LocalFolderBlobStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        this.root = System.IO.Path.GetFullPath(root);
        Location = new Uri(this.root).AbsoluteUri;
    }

    public string Location { get; }

    /// <summary>The folder that holds the blobs.</summary>
    public string Root => root;

    public Task<StoredBlob?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default)
    {
        var info = new FileInfo(FullPath(path));
        return Task.FromResult(info.Exists ? ToBlob(path, info) : null);
    }

    public async Task<StoredBlob> PutAsync(string path, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        var target = FullPath(path);
        options ??= new PutOptions();
        var tempDir = System.IO.Path.Combine(root, BlobPath.ReservedPrefix + "tmp");
        Directory.CreateDirectory(tempDir);
        var temp = System.IO.Path.Combine(tempDir, Guid.NewGuid().ToString("N"));
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous))
            {
                await CopyAsync(content, file, options.Progress, cancellationToken);
                // A checkpoint that `latest` points at must survive a power cut, not only a crash.
                file.Flush(flushToDisk: true);
            }
            cancellationToken.ThrowIfCancellationRequested();
            using (await AcquireCommitLockAsync(cancellationToken))
            {
                var current = new FileInfo(target);
                CheckCondition(path, current, options.Condition);
                if (Directory.Exists(target))
                    throw new StoreLocationException($"cannot write blob '{path}' in store {Location}: a folder of blobs has that name");
                var mtime = DateTime.UtcNow;
                if (current.Exists && mtime <= current.LastWriteTimeUtc) mtime = current.LastWriteTimeUtc.AddTicks(1);
                File.SetLastWriteTimeUtc(temp, mtime);
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
                File.Move(temp, target, overwrite: true);
            }
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return ToBlob(path, new FileInfo(target));
    }

    public Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var file = OpenExisting(path);
        file.Position = Math.Min(offset, file.Length);
        Stream stream = length is { } n ? new BoundedReadStream(file, n) : file;
        return Task.FromResult(stream);
    }

    public async Task<StoredBlob> DownloadAsync(string path, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        await using var file = OpenExisting(path);
        var blob = ToBlob(path, new FileInfo(file.Name));
        await CopyAsync(file, destination, progress, cancellationToken);
        return blob;
    }

    public async IAsyncEnumerable<StoredBlob> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Walk only the deepest folder the prefix names; the rest of the prefix filters names.
        var slash = prefix.LastIndexOf('/');
        var folder = slash < 0 ? root : System.IO.Path.Combine(root, prefix[..slash]);
        if (slash >= 0) BlobPath.Validate(prefix[..slash]);
        if (!Directory.Exists(folder)) yield break;
        var found = new List<(string Path, FileInfo Info)>();
        foreach (var file in new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            var relative = System.IO.Path.GetRelativePath(root, file.FullName).Replace(System.IO.Path.DirectorySeparatorChar, '/');
            if (relative.StartsWith(prefix, StringComparison.Ordinal) && !IsReserved(relative))
                found.Add((relative, file));
        }
        found.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        foreach (var (path, info) in found)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (info.Exists) yield return ToBlob(path, info);
        }
        await Task.CompletedTask;
    }

    public async Task<bool> DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        var target = FullPath(path);
        using (await AcquireCommitLockAsync(cancellationToken))
        {
            if (!File.Exists(target)) return false;
            File.Delete(target);
            // Empty folders would otherwise pile up as retention deletes checkpoints.
            for (var dir = System.IO.Path.GetDirectoryName(target);
                 dir is not null && dir.Length > root.Length && !Directory.EnumerateFileSystemEntries(dir).Any();
                 dir = System.IO.Path.GetDirectoryName(dir))
                Directory.Delete(dir);
        }
        return true;
    }

    private string FullPath(string path) =>
        System.IO.Path.Combine(root, BlobPath.Validate(path).Replace('/', System.IO.Path.DirectorySeparatorChar));

    private FileStream OpenExisting(string path)
    {
        try
        {
            return new FileStream(FullPath(path), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BlobNotFoundException(Location, path);
        }
    }

    private void CheckCondition(string path, FileInfo current, BlobCondition condition)
    {
        if (condition.IfAbsent && current.Exists)
            throw new BlobConflictException(Location, path, "it already exists");
        if (condition.IfMatchETag is { } expected)
        {
            if (!current.Exists)
                throw new BlobConflictException(Location, path, $"expected ETag {expected} but the blob no longer exists");
            var actual = ETagOf(current);
            if (actual != expected)
                throw new BlobConflictException(Location, path, $"expected ETag {expected} but another writer changed it to {actual}");
        }
    }

    private async Task<IDisposable> AcquireCommitLockAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(root);
        var lockPath = System.IO.Path.Combine(root, BlobPath.ReservedPrefix + "commit.lock");
        var deadline = DateTime.UtcNow + LockTimeout;
        for (var delay = 1; ; delay = Math.Min(delay * 2, 50))
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(delay, cancellationToken);
            }
            catch (IOException e)
            {
                throw new StoreUnavailableException(Location, $"lock {lockPath} held for over {LockTimeout.TotalSeconds:0} s", e);
            }
        }
    }

    private static async Task CopyAsync(Stream source, Stream destination, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long done = 0;
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                done += read;
                progress?.Report(done);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool IsReserved(string relative) =>
        relative.Split('/').Any(s => s.StartsWith(BlobPath.ReservedPrefix, StringComparison.Ordinal));

    private static string ETagOf(FileInfo info) => $"\"{info.LastWriteTimeUtc.Ticks:x}-{info.Length:x}\"";

    private static StoredBlob ToBlob(string path, FileInfo info) =>
        new(path, info.Length, ETagOf(info), new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero));
}
