namespace MatMulFree.Storage.Tests;

public sealed class LocalFolderBlobStoreTests : BlobStoreContractTests, IDisposable
{
    private readonly DirectoryInfo root = Directory.CreateTempSubdirectory("mmf-store-test-");

    protected override IBlobStore CreateStore() => new LocalFolderBlobStore(root.FullName);

    public void Dispose() => root.Delete(recursive: true);

    [Fact]
    public async Task LocalFolderBlobStore_ListAsync_HidesItsTempAndLockFiles()
    {
        var store = CreateStore();
        await store.PutAsync("a", new MemoryStream([1]));

        var found = new List<string>();
        await foreach (var blob in store.ListAsync("")) found.Add(blob.Path);

        Assert.True(Directory.Exists(Path.Combine(root.FullName, ".mmf-tmp")));
        Assert.Equal(["a"], found);
    }

    [Fact]
    public async Task LocalFolderBlobStore_DeleteAsync_LastBlobOfFolder_RemovesEmptyFolders()
    {
        var store = CreateStore();
        await store.PutAsync("runs/r/checkpoints/1/w", new MemoryStream([1]));
        await store.DeleteAsync("runs/r/checkpoints/1/w");
        Assert.False(Directory.Exists(Path.Combine(root.FullName, "runs")));
    }
}
