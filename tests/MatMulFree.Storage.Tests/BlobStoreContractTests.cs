using System.Collections.Concurrent;

namespace MatMulFree.Storage.Tests;

/// <summary>
/// What every <see cref="IBlobStore"/> must do, run against each implementation by a subclass
/// (a local folder, and Azurite for real). Blocks are 1 MiB in the Azure run so that a few MiB
/// already take the parallel block / range paths.
/// </summary>
public abstract class BlobStoreContractTests
{
    protected abstract IBlobStore CreateStore();

    [Fact]
    public async Task BlobStore_PutAsync_NewBlob_ReadsBackSameBytes()
    {
        var store = CreateStore();
        var bytes = TestBytes.Random(1000, 1);
        var written = await store.PutAsync("a/b/c.bin", new MemoryStream(bytes));
        var properties = await store.GetPropertiesAsync("a/b/c.bin");

        Assert.Equal(1000, written.Length);
        Assert.NotNull(properties);
        Assert.Equal(1000, properties.Length);
        Assert.Equal(written.ETag, properties.ETag);
        await using var read = await store.OpenReadAsync("a/b/c.bin");
        Assert.Equal(bytes, await TestBytes.ReadAllAsync(read));
    }

    [Fact]
    public async Task BlobStore_PutAsync_EmptyBlob_ReadsBackEmpty()
    {
        var store = CreateStore();
        await store.PutAsync("empty", new MemoryStream());
        await using var read = await store.OpenReadAsync("empty");
        Assert.Empty(await TestBytes.ReadAllAsync(read));
        Assert.Equal(0, (await store.GetPropertiesAsync("empty"))!.Length);
    }

    [Fact]
    public async Task BlobStore_GetPropertiesAsync_MissingBlob_ReturnsNull()
    {
        Assert.Null(await CreateStore().GetPropertiesAsync("no/such/blob"));
    }

    [Fact]
    public async Task BlobStore_OpenReadAsync_MissingBlob_ThrowsBlobNotFoundNamingIt()
    {
        var e = await Assert.ThrowsAsync<BlobNotFoundException>(() => CreateStore().OpenReadAsync("no/such/blob"));
        Assert.Contains("no/such/blob", e.Message);
    }

    [Fact]
    public async Task BlobStore_OpenReadAsync_Range_ReturnsOnlyThoseBytes()
    {
        var store = CreateStore();
        var bytes = TestBytes.Random(10_000, 2);
        await store.PutAsync("ranged", new MemoryStream(bytes));

        await using var middle = await store.OpenReadAsync("ranged", 1234, 4321);
        await using var tail = await store.OpenReadAsync("ranged", 9000);
        await using var past = await store.OpenReadAsync("ranged", 10_000);

        Assert.Equal(bytes[1234..5555], await TestBytes.ReadAllAsync(middle));
        Assert.Equal(bytes[9000..], await TestBytes.ReadAllAsync(tail));
        Assert.Empty(await TestBytes.ReadAllAsync(past));
    }

    [Fact]
    public async Task BlobStore_DownloadAsync_MultiBlockBlob_ReassemblesInOrderAndReportsProgress()
    {
        var store = CreateStore();
        var bytes = TestBytes.Random((5 << 20) + 123, 3);
        var uploaded = new ConcurrentBag<long>();
        await store.PutAsync("big/weights.bin", new MemoryStream(bytes), new PutOptions { Progress = new SyncProgress(uploaded.Add) });

        var downloaded = new ConcurrentBag<long>();
        using var copy = new MemoryStream();
        var blob = await store.DownloadAsync("big/weights.bin", copy, new SyncProgress(downloaded.Add));

        Assert.Equal(bytes.Length, blob.Length);
        Assert.Equal(TestBytes.Sha256(bytes), TestBytes.Sha256(copy.ToArray()));
        Assert.Equal(bytes.Length, uploaded.Max());
        Assert.Equal(bytes.Length, downloaded.Max());
    }

    [Fact]
    public async Task BlobStore_PutAsync_Overwrite_ReplacesContentAndChangesETag()
    {
        var store = CreateStore();
        var first = await store.PutAsync("x", new MemoryStream([1, 2, 3]));
        var second = await store.PutAsync("x", new MemoryStream([4, 5, 6]));

        Assert.NotEqual(first.ETag, second.ETag);
        await using var read = await store.OpenReadAsync("x");
        Assert.Equal(new byte[] { 4, 5, 6 }, await TestBytes.ReadAllAsync(read));
    }

    [Fact]
    public async Task BlobStore_PutAsync_IfNotExistsOnExistingBlob_ThrowsConflictAndKeepsContent()
    {
        var store = CreateStore();
        await store.PutAsync("once", new MemoryStream([1]));

        var e = await Assert.ThrowsAsync<BlobConflictException>(() =>
            store.PutAsync("once", new MemoryStream([2]), new PutOptions { Condition = BlobCondition.IfNotExists }));

        Assert.Contains("once", e.Message);
        await using var read = await store.OpenReadAsync("once");
        Assert.Equal(new byte[] { 1 }, await TestBytes.ReadAllAsync(read));
    }

    [Fact]
    public async Task BlobStore_PutAsync_IfMatchCurrentETag_Succeeds()
    {
        var store = CreateStore();
        var first = await store.PutAsync("cas", new MemoryStream([1]));
        var second = await store.PutAsync("cas", new MemoryStream([2]), new PutOptions { Condition = BlobCondition.IfMatch(first.ETag) });
        Assert.Equal(second.ETag, (await store.GetPropertiesAsync("cas"))!.ETag);
    }

    [Fact]
    public async Task BlobStore_PutAsync_IfMatchStaleETag_ThrowsConflictAndKeepsContent()
    {
        var store = CreateStore();
        var first = await store.PutAsync("cas", new MemoryStream([1]));
        await store.PutAsync("cas", new MemoryStream([2]));

        await Assert.ThrowsAsync<BlobConflictException>(() =>
            store.PutAsync("cas", new MemoryStream([3]), new PutOptions { Condition = BlobCondition.IfMatch(first.ETag) }));

        await using var read = await store.OpenReadAsync("cas");
        Assert.Equal(new byte[] { 2 }, await TestBytes.ReadAllAsync(read));
    }

    [Fact]
    public async Task BlobStore_PutAsync_ConcurrentWritersWithSameETag_ExactlyOneWins()
    {
        var store = CreateStore();
        var start = await store.PutAsync("pointer", new MemoryStream([0]));
        const int writers = 6;

        var outcomes = await Task.WhenAll(Enumerable.Range(1, writers).Select(i => Task.Run(async () =>
        {
            try
            {
                await store.PutAsync("pointer", new MemoryStream([(byte)i]), new PutOptions { Condition = BlobCondition.IfMatch(start.ETag) });
                return i;
            }
            catch (BlobConflictException)
            {
                return -1;
            }
        })));

        var winner = Assert.Single(outcomes, o => o > 0);
        await using var read = await store.OpenReadAsync("pointer");
        Assert.Equal(new[] { (byte)winner }, await TestBytes.ReadAllAsync(read));
    }

    [Fact]
    public async Task BlobStore_PutAsync_CancelledHalfway_LeavesPreviousContent()
    {
        var store = CreateStore();
        await store.PutAsync("model.bin", new MemoryStream([9, 9, 9]));
        var bytes = TestBytes.Random(4 << 20, 4);
        using var cancellation = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            store.PutAsync("model.bin", new CancellingStream(bytes, bytes.Length / 2, cancellation), cancellationToken: cancellation.Token));

        await using var read = await store.OpenReadAsync("model.bin");
        Assert.Equal(new byte[] { 9, 9, 9 }, await TestBytes.ReadAllAsync(read));
    }

    [Fact]
    public async Task BlobStore_ListAsync_Prefix_ReturnsOnlyMatchingBlobsInOrder()
    {
        var store = CreateStore();
        foreach (var path in new[] { "runs/b/2", "runs/a/1", "runs/a/sub/3", "models/m/1", "runsx" })
            await store.PutAsync(path, new MemoryStream([1, 2]));

        var all = new List<string>();
        await foreach (var blob in store.ListAsync("runs/")) all.Add(blob.Path);
        var partial = new List<string>();
        await foreach (var blob in store.ListAsync("runs/a")) partial.Add(blob.Path);
        var everything = new List<StoredBlob>();
        await foreach (var blob in store.ListAsync("")) everything.Add(blob);

        Assert.Equal(["runs/a/1", "runs/a/sub/3", "runs/b/2"], all);
        Assert.Equal(["runs/a/1", "runs/a/sub/3"], partial);
        Assert.Equal(5, everything.Count);
        Assert.All(everything, b => Assert.Equal(2, b.Length));
    }

    [Fact]
    public async Task BlobStore_ListAsync_NothingWritten_ReturnsEmpty()
    {
        var found = new List<StoredBlob>();
        await foreach (var blob in CreateStore().ListAsync("models/")) found.Add(blob);
        Assert.Empty(found);
    }

    [Fact]
    public async Task BlobStore_DeleteAsync_ExistingThenMissing_ReturnsTrueThenFalse()
    {
        var store = CreateStore();
        await store.PutAsync("d/e", new MemoryStream([1]));

        Assert.True(await store.DeleteAsync("d/e"));
        Assert.False(await store.DeleteAsync("d/e"));
        Assert.Null(await store.GetPropertiesAsync("d/e"));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("a/./b")]
    [InlineData("a/.mmf-tmp/b")]
    public async Task BlobStore_PutAsync_InvalidPath_ThrowsStoreLocationNamingIt(string path)
    {
        var e = await Assert.ThrowsAsync<StoreLocationException>(() => CreateStore().PutAsync(path, new MemoryStream([1])));
        Assert.Contains(path, e.Message);
    }

    /// <summary>Reports on the caller's thread: <see cref="Progress{T}"/> would post and race the asserts.</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
