using System.Text.Json;

namespace MatMulFree.Cli.Tests;

/// <summary>Serving a model straight from a store: pushed once, then named by its store path or URI.</summary>
public sealed class ServeFromStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"mmf-serve-store-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task BenchServe_ModelFromAFolderStore_PullsAndServesItByPathOrUri()
    {
        string store = Path.Combine(_root, "store");
        Mmf.Result push = await Mmf.RunAsync("store", "push", "--model", "tests/data/models/tiny", "--to", $"{store}/models/tiny");
        Assert.True(push.ExitCode == 0, push.Output);

        // The plain path of a local store's model is a folder too (of versions): it must not be
        // mistaken for a model folder. And the URI form with an explicit version.
        foreach (string source in new[] { $"{store}/models/tiny", $"file://{store}/models/tiny/1" })
        {
            Mmf.Result r = await Mmf.RunAsync(new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = Path.Combine(_root, "cache") }, "bench", "serve", "--model", source, "--sessions", "2", "--tokens", "4", "--seconds", "0.1", "--json");
            Assert.True(r.ExitCode == 0, $"{source}: {r.Output}");
            using JsonDocument json = JsonDocument.Parse(r.Stdout);
            Assert.Equal("tiny", json.RootElement.GetProperty("model").GetString());
            Assert.Equal(0, json.RootElement.GetProperty("errors").GetInt32());
            Assert.True(json.RootElement.GetProperty("serving_tokens_per_s").GetDouble() > 0, source);
        }
    }

    [Fact]
    public async Task BenchServe_FolderThatIsNeitherModelNorStore_ExitsTwoAndSaysWhy()
    {
        string empty = Path.Combine(_root, "empty");
        Directory.CreateDirectory(empty);
        Mmf.Result r = await Mmf.RunAsync("bench", "serve", "--model", empty, "--sessions", "2", "--tokens", "4");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("has no config.json or model.mmfserve", r.Output.ReplaceLineEndings(" "));
    }
}
