using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Core;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace MatMulFree.Storage;

/// <summary>
/// A blob store in one Azure Blob Storage container (or Azurite's). Large blobs go up as parallel
/// blocks and come down as parallel ranges (the SDK's <see cref="StorageTransferOptions"/>); the
/// SDK retries transient failures with exponential backoff; conditional writes use
/// If-Match / If-None-Match on the ETag.
/// </summary>
public sealed class AzureBlobStore : IBlobStore
{
    private readonly BlobContainerClient container;
    private readonly AzureBlobStoreOptions options;
    private volatile bool containerReady;

    public AzureBlobStore(BlobContainerClient container, AzureBlobStoreOptions? options = null)
    {
        this.container = container;
        this.options = options ?? new AzureBlobStoreOptions();
        Location = new UriBuilder(container.Uri) { Query = "" }.Uri.AbsoluteUri.TrimEnd('/');
    }

    public string Location { get; }

    /// <summary>The SDK's client settings for <paramref name="options"/>: retries, backoff, timeouts.</summary>
    public static BlobClientOptions ClientOptions(AzureBlobStoreOptions? options)
    {
        options ??= new AzureBlobStoreOptions();
        var client = new BlobClientOptions();
        client.Retry.Mode = RetryMode.Exponential;
        client.Retry.MaxRetries = options.MaxRetries;
        client.Retry.Delay = options.RetryDelay;
        client.Retry.MaxDelay = options.MaxRetryDelay;
        client.Retry.NetworkTimeout = options.NetworkTimeout;
        return client;
    }

    public async Task<StoredBlob?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var properties = await Blob(path).GetPropertiesAsync(cancellationToken: cancellationToken);
            return new StoredBlob(path, properties.Value.ContentLength, properties.Value.ETag.ToString(), properties.Value.LastModified);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (Exception e) when (Translate(e, "get properties", path, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public async Task<StoredBlob> PutAsync(string path, Stream content, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PutOptions();
        var blob = Blob(path);
        // Counting through a forward-only stream also keeps the SDK from seeking the caller's stream.
        await using var counted = HashingStream.ForwardOnly(content, reading: true);
        var upload = new BlobUploadOptions
        {
            TransferOptions = Transfer(),
            ProgressHandler = options.Progress,
            Conditions = options.Condition.IfAbsent ? new BlobRequestConditions { IfNoneMatch = ETag.All }
                : options.Condition.IfMatchETag is { } etag ? new BlobRequestConditions { IfMatch = new ETag(etag) }
                : null,
        };
        try
        {
            await EnsureContainerAsync(cancellationToken);
            var info = await blob.UploadAsync(counted, upload, cancellationToken);
            return new StoredBlob(path, counted.BytesHashed, info.Value.ETag.ToString(), info.Value.LastModified);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            throw new BlobConflictException(Location, path,
                options.Condition.IfAbsent ? "it already exists" : $"expected ETag {options.Condition.IfMatchETag} but another writer changed it", e);
        }
        catch (Exception e) when (Translate(e, "upload", path, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public async Task<Stream> OpenReadAsync(string path, long offset = 0, long? length = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length == 0) return Stream.Null;
        try
        {
            var response = await Blob(path).DownloadStreamingAsync(
                new BlobDownloadOptions { Range = new HttpRange(offset, length) }, cancellationToken);
            return response.Value.Content;
        }
        catch (RequestFailedException e) when (e.Status == 416)
        {
            // The range starts at or past the end (or the blob is empty): like a file, read nothing.
            return Stream.Null;
        }
        catch (Exception e) when (Translate(e, "read", path, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public async Task<StoredBlob> DownloadAsync(string path, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var blob = await GetPropertiesAsync(path, cancellationToken) ?? throw new BlobNotFoundException(Location, path);
        try
        {
            await using var forward = HashingStream.ForwardOnly(destination, reading: false);
            await Blob(path).DownloadToAsync(forward, new BlobDownloadToOptions
            {
                TransferOptions = Transfer(),
                ProgressHandler = progress,
                // A rewrite during the download must fail it, not splice two versions together.
                Conditions = new BlobRequestConditions { IfMatch = new ETag(blob.ETag) },
            }, cancellationToken);
            return blob;
        }
        catch (RequestFailedException e) when (e.Status == 412)
        {
            throw new BlobConflictException(Location, path, "it was rewritten while being downloaded", e);
        }
        catch (Exception e) when (Translate(e, "download", path, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    public async IAsyncEnumerable<StoredBlob> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var pages = container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix.Length == 0 ? null : prefix, cancellationToken)
            .AsPages().GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                Page<BlobItem> page;
                try
                {
                    if (!await pages.MoveNextAsync()) yield break;
                    page = pages.Current;
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    yield break; // no container yet: nothing was ever written
                }
                catch (Exception e) when (Translate(e, "list", prefix, cancellationToken) is { } translated)
                {
                    throw translated;
                }
                foreach (var item in page.Values)
                {
                    var p = item.Properties;
                    yield return new StoredBlob(item.Name, p.ContentLength ?? 0, p.ETag?.ToString() ?? "", p.LastModified ?? default);
                }
            }
        }
        finally
        {
            await pages.DisposeAsync();
        }
    }

    public async Task<bool> DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await Blob(path).DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken);
            return response.Value;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return false;
        }
        catch (Exception e) when (Translate(e, "delete", path, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    private BlobClient Blob(string path) => container.GetBlobClient(BlobPath.Validate(path));

    private StorageTransferOptions Transfer() => new()
    {
        MaximumConcurrency = options.MaxConcurrency,
        InitialTransferSize = options.BlockSize,
        MaximumTransferSize = options.BlockSize,
    };

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (containerReady) return;
        await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        containerReady = true;
    }

    /// <summary>
    /// The store's error for an SDK failure, or null to let it pass (the caller's own cancellation,
    /// errors of the caller's stream, our own exceptions).
    /// </summary>
    private Exception? Translate(Exception e, string operation, string path, CancellationToken cancellationToken)
    {
        if (e is StoreException) return null;
        if (e is OperationCanceledException && cancellationToken.IsCancellationRequested) return null;
        return e switch
        {
            RequestFailedException { Status: 404 } => new BlobNotFoundException(Location, path),
            RequestFailedException { Status: 0 } => new StoreUnavailableException(Location, $"{operation} '{path}'", e),
            RequestFailedException r => new StoreException(
                $"blob store {Location} refused to {operation} '{path}': HTTP {r.Status} {r.ErrorCode}", e),
            AggregateException or HttpRequestException or SocketException or TimeoutException or OperationCanceledException
                or IOException { InnerException: SocketException or HttpRequestException }
                => new StoreUnavailableException(Location, $"{operation} '{path}'", e),
            _ => null,
        };
    }
}
