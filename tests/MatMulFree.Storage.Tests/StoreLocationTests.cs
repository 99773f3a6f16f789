namespace MatMulFree.Storage.Tests;

public sealed class StoreLocationTests
{
    [Fact]
    public void StoreLocation_Parse_FileUriWithModels_SplitsRootAndPath()
    {
        var location = StoreLocation.Parse("file:///data/store/models/tiny/3");
        Assert.Equal("file:///data/store", location.Store);
        Assert.Equal("models/tiny/3", location.Path);
        Assert.Equal("/data/store", Assert.IsType<LocalFolderBlobStore>(location.Open()).Root);
    }

    [Fact]
    public void StoreLocation_Parse_PlainPathWithoutLayoutSegment_IsTheRoot()
    {
        var location = StoreLocation.Parse("/data/store");
        Assert.Equal(("file:///data/store", ""), (location.Store, location.Path));
    }

    [Fact]
    public void StoreLocation_Parse_AzuriteUrl_IsPathStyleAccountThenContainer()
    {
        var location = StoreLocation.Parse("http://127.0.0.1:10000/devstoreaccount1/mmf/runs/r1");
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1/mmf", location.Store);
        Assert.Equal("runs/r1", location.Path);
        Assert.IsType<AzureBlobStore>(location.Open());
    }

    [Fact]
    public void StoreLocation_Parse_AzureUrlWithSas_HidesTheSasInStore()
    {
        var location = StoreLocation.Parse("https://acct.blob.core.windows.net/models-c/models/tiny?sv=2024&sig=secret");
        Assert.Equal("https://acct.blob.core.windows.net/models-c", location.Store);
        Assert.Equal("models/tiny", location.Path);
        Assert.DoesNotContain("secret", location.Open().Location);
    }

    [Fact]
    public void StoreLocation_Parse_DevelopmentStorage_UsesDefaultContainer()
    {
        var location = StoreLocation.Parse("UseDevelopmentStorage=true");
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1/mmf", location.Store);
        Assert.Equal("", location.Path);
    }

    [Fact]
    public void StoreLocation_Parse_ConnectionStringWithContainer_UsesIt()
    {
        var location = StoreLocation.Parse("UseDevelopmentStorage=true;Container=ckpts");
        Assert.EndsWith("/ckpts", location.Store);
    }

    [Theory]
    [InlineData("ftp://host/x", "scheme 'ftp'")]
    [InlineData("http://127.0.0.1:10000/devstoreaccount1", "names no container")]
    [InlineData("https://acct.blob.core.windows.net/Bad_Name/x", "container 'Bad_Name'")]
    [InlineData("AccountName=x;Nonsense", "connection string is not valid")]
    [InlineData("   ", "empty")]
    public void StoreLocation_Parse_BadLocation_ThrowsNamingTheProblem(string text, string expected)
    {
        var e = Assert.Throws<StoreLocationException>(() => StoreLocation.Parse(text));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void StoreLocation_Resolve_RelativeTargetWithStore_IsPathInsideThatStore()
    {
        var location = StoreLocation.Resolve("models/tiny", "/data/models");
        Assert.Equal(("file:///data/models", "models/tiny"), (location.Store, location.Path));
    }

    [Fact]
    public void StoreLocation_Resolve_AbsoluteTarget_IgnoresStore()
    {
        var location = StoreLocation.Resolve("file:///other/models/m", "/data/store");
        Assert.Equal(("file:///other", "models/m"), (location.Store, location.Path));
    }

    [Fact]
    public void StoreLocation_Child_EscapingPath_Throws()
    {
        Assert.Throws<StoreLocationException>(() => StoreLocation.Parse("/data/store").Child("models/../../etc"));
    }
}
