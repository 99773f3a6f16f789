using MatMulFree.Core;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;
using MatMulFree.Testing;

namespace MatMulFree.Storage.Tests;

[Collection(AzuriteFixture.Collection)]
public sealed class AzureBlobStoreTests(AzuriteFixture azurite) : BlobStoreContractTests
{
    internal static readonly AzureBlobStoreOptions SmallBlocks = new() { BlockSize = 1 << 20, MaxConcurrency = 4 };

    protected override IBlobStore CreateStore() => CreateStore(azurite);

    internal static IBlobStore CreateStore(AzuriteFixture azurite) =>
        new AzureBlobStore(new BlobServiceClient(azurite.ConnectionString, AzureBlobStore.ClientOptions(SmallBlocks))
            .GetBlobContainerClient(AzuriteFixture.UniqueContainer()), SmallBlocks);

    [Fact]
    public async Task AzureBlobStore_PutAsync_StoreDown_FailsClearlyWithinSeconds()
    {
        var port = LoopbackPorts.Free(1)[0]; // nothing listens there: the store is down
        var options = new AzureBlobStoreOptions { MaxRetries = 2, RetryDelay = TimeSpan.FromMilliseconds(50), NetworkTimeout = TimeSpan.FromSeconds(2) };
        var store = StoreLocation.Parse($"http://127.0.0.1:{port}/devstoreaccount1/down").Open(options);
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.PutAsync("x", new MemoryStream([1])));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Contains($"127.0.0.1:{port}", e.Message);
        Assert.Contains("unreachable", e.Message);
    }

    [Fact]
    public async Task AzureBlobStore_GetPropertiesAsync_StoreDown_ThrowsUnavailableNotNull()
    {
        var options = new AzureBlobStoreOptions { MaxRetries = 1, RetryDelay = TimeSpan.FromMilliseconds(50), NetworkTimeout = TimeSpan.FromSeconds(2) };
        var store = StoreLocation.Parse($"http://127.0.0.1:{LoopbackPorts.Free(1)[0]}/devstoreaccount1/down").Open(options);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.GetPropertiesAsync("x"));
    }

    [Fact]
    public async Task AzureBlobStore_StoreLocationParse_AzuriteUrl_ReachesTheSameBlobs()
    {
        var container = AzuriteFixture.UniqueContainer();
        var viaUrl = StoreLocation.Parse($"{azurite.Emulator.BlobEndpoint}/{container}/models/tiny");
        var viaConnectionString = StoreLocation.Parse($"{azurite.ConnectionString}Container={container}");

        await viaUrl.Open().PutAsync($"{viaUrl.Path}/config.json", new MemoryStream([1, 2, 3]));

        Assert.Equal("models/tiny", viaUrl.Path);
        Assert.Equal(3, (await viaConnectionString.Open().GetPropertiesAsync("models/tiny/config.json"))!.Length);
    }
}
