namespace MatMulFree.Storage.Tests;

public sealed class LocalFolderModelCacheTests : ModelCacheContractTests
{
    protected override IBlobStore CreateStore() => new LocalFolderBlobStore(Scratch("store"));

    protected override IBlobStore CreateOtherStore() => new LocalFolderBlobStore(Scratch("other-store"));
}
