namespace MatMulFree.Storage.Tests;

public sealed class ModelCacheTests
{
    [Theory]
    [InlineData("/var/cache/alice", "/var/cache/alice/mmf/models")]
    [InlineData(null, "/home/alice/.cache/mmf/models")]
    [InlineData("", "/home/alice/.cache/mmf/models")]
    [InlineData("relative/cache", "/home/alice/.cache/mmf/models")] // the XDG spec: a relative path is ignored
    public void ModelCache_RootFor_XdgCacheHome_IsTheUsersCacheDirectory(string? xdgCacheHome, string expected)
    {
        Assert.Equal(expected, ModelCache.RootFor(xdgCacheHome, "/home/alice"));
    }
}
