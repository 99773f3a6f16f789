using MatMulFree.Testing;

namespace MatMulFree.Storage.Tests;

[Collection(AzuriteFixture.Collection)]
public sealed class AzureSnapshotStoreTests(AzuriteFixture azurite) : SnapshotStoreContractTests
{
    private IBlobStore? store;

    // One container per test; every call within a test must see the same blobs.
    protected override IBlobStore CreateStore() => store ??= AzureBlobStoreTests.CreateStore(azurite);
}
