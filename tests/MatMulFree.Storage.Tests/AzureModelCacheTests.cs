using MatMulFree.Testing;

namespace MatMulFree.Storage.Tests;

[Collection(AzuriteFixture.Collection)]
public sealed class AzureModelCacheTests(AzuriteFixture azurite) : ModelCacheContractTests
{
    private IBlobStore? store;

    // One container per test; every call within a test must see the same blobs.
    protected override IBlobStore CreateStore() => store ??= AzureBlobStoreTests.CreateStore(azurite);

    protected override IBlobStore CreateOtherStore() => AzureBlobStoreTests.CreateStore(azurite);
}
