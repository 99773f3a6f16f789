namespace MatMulFree.Storage.Tests;

/// <summary>
/// A store that runs <paramref name="beforeFirstDownload"/> once, before its first download starts:
/// another process's whole turn placed deterministically inside this one's.
/// </summary>
internal sealed class BeforeFirstDownloadStore(IBlobStore inner, Func<Task> beforeFirstDownload) : IBlobStore
{
    private int started;

    public string Location => inner.Location;

    public Task<StoredBlob?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default) =>
        inner.GetPropertiesAsync(path, cancellationToken);

    public Task<StoredBlob> PutAsync(string path, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default) =>
        inner.PutAsync(path, content, options, cancellationToken);

    public Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken cancellationToken = default) =>
        inner.OpenReadAsync(path, offset, length, cancellationToken);

    public async Task<StoredBlob> DownloadAsync(string path, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref started, 1) == 0) await beforeFirstDownload();
        return await inner.DownloadAsync(path, destination, progress, cancellationToken);
    }

    public IAsyncEnumerable<StoredBlob> ListAsync(string prefix, CancellationToken cancellationToken = default) =>
        inner.ListAsync(prefix, cancellationToken);

    public Task<bool> DeleteAsync(string path, CancellationToken cancellationToken = default) =>
        inner.DeleteAsync(path, cancellationToken);
}
