namespace MatMulFree.Storage.Tests;

public sealed class LocalFolderSnapshotStoreTests : SnapshotStoreContractTests
{
    protected override IBlobStore CreateStore() => new LocalFolderBlobStore(Scratch("store"));
}
