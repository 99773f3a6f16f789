using System.Text.RegularExpressions;

namespace MatMulFree.Cli.Tests;

/// <summary>Serving from a store whose blob fails its check, and again once the store is repaired.</summary>
public sealed class ServeFromAFailingStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"mmf-serve-failing-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Serve_StoreFailsItsCheckThenRepaired_OneErrorLineThenServesTheRepairedModel()
    {
        // A name of its own: a cache shared between runs (or users) cannot hand this test anything.
        string name = $"relx-{Guid.NewGuid():N}"[..13];
        string store = Path.Combine(_root, "store");
        var environment = new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = Path.Combine(_root, "cache") };
        Mmf.Result push = await Mmf.RunAsync("store", "push", "--model", "tests/data/models/tiny", "--to", $"{store}/models/{name}");
        Assert.True(push.ExitCode == 0, push.Output);
        string weights = Path.Combine(store, "models", name, "1", "model.safetensors");
        byte[] original = StoreFaults.FlipOneByte(weights);

        Mmf.Result failed = await Mmf.RunAsync(environment, "serve", "--model", $"{store}/models/{name}", "--port", "1");
        await File.WriteAllBytesAsync(weights, original);
        Mmf.Result repaired = await Mmf.RunAsync(environment, "bench", "serve", "--model", $"{store}/models/{name}", "--sessions", "1", "--tokens", "2", "--seconds", "0.1", "--json");

        Assert.Equal(2, failed.ExitCode);
        string[] lines = failed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Count(l => l.StartsWith("error:", StringComparison.Ordinal)) == 1 && lines[0].StartsWith("error:", StringComparison.Ordinal), failed.Output);
        Assert.DoesNotContain("Exception", failed.Output);
        Assert.Contains($"error: integrity check failed for 'models/{name}/1/model.safetensors' in store file://{store}:",
            Regex.Replace(failed.Output, @"\s+", " "));
        Assert.True(repaired.ExitCode == 0, repaired.Output);
        Assert.True(Directory.Exists(Path.Combine(_root, "cache", "mmf", "models")), "the cache is not under $XDG_CACHE_HOME");
        Assert.False(Directory.Exists(Path.Combine(Path.GetTempPath(), "mmf-model-cache", name)));
    }
}
