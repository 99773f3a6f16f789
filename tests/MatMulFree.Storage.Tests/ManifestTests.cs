namespace MatMulFree.Storage.Tests;

public sealed class ManifestTests
{
    [Fact]
    public void Manifest_ToJsonThenParse_RoundTrips()
    {
        var manifest = new Manifest
        {
            Kind = "checkpoint", CreatedUtc = DateTimeOffset.UnixEpoch, Step = 7, ValidationLoss = 1.25,
            Files = [new ManifestEntry("model.safetensors", 10, new string('a', 64))],
        };
        var back = Manifest.Parse(manifest.ToJson(), "test");
        Assert.Equal((manifest.Kind, manifest.Step, manifest.ValidationLoss, manifest.Files[0]), (back.Kind, back.Step, back.ValidationLoss, back.Files[0]));
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("{\"format\":\"other/9\",\"kind\":\"model\",\"createdUtc\":\"2020-01-01T00:00:00Z\",\"files\":[]}", "format 'other/9'")]
    [InlineData("{\"format\":\"mmf-manifest/1\",\"kind\":\"model\",\"createdUtc\":\"2020-01-01T00:00:00Z\",\"files\":[{\"path\":\"../x\",\"size\":1,\"sha256\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}", "'../x'")]
    public void Manifest_Parse_Bad_ThrowsNamingSource(string json, string expected)
    {
        var e = Assert.ThrowsAny<StoreException>(() => Manifest.Parse(json, "store/models/m/1/manifest.json"));
        Assert.Contains(expected, e.Message);
    }
}
