using System.Text.RegularExpressions;

namespace MatMulFree.Cli.Tests;

/// <summary><c>mmf store pull</c> of a version whose blobs no longer match its manifest.</summary>
public sealed class StorePullCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"mmf-store-pull-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task StorePull_BlobChangedAfterPush_ExitsTwoNamingTheBlobAndLeavesOutAsItWas()
    {
        string store = Path.Combine(_root, "store");
        Mmf.Result push = await Mmf.RunAsync("store", "push", "--model", "tests/data/models/tiny", "--to", $"{store}/models/tiny");
        Assert.True(push.ExitCode == 0, push.Output);
        // config.json, first in the manifest, stays intact: only the weights after it fail.
        StoreFaults.FlipOneByte(Path.Combine(store, "models", "tiny", "1", "model.safetensors"));
        string fresh = Path.Combine(_root, "fresh");
        string existing = Directory.CreateDirectory(Path.Combine(_root, "existing")).FullName;
        await File.WriteAllTextAsync(Path.Combine(existing, "notes.txt"), "mine");

        Mmf.Result intoFresh = await Mmf.RunAsync("store", "pull", $"{store}/models/tiny", "--out", fresh);
        Mmf.Result intoExisting = await Mmf.RunAsync("store", "pull", $"{store}/models/tiny", "--out", existing);

        Assert.Equal((2, 2), (intoFresh.ExitCode, intoExisting.ExitCode));
        Assert.Contains($"error: integrity check failed for 'models/tiny/1/model.safetensors' in store file://{store}:",
            Regex.Replace(intoFresh.Output, @"\s+", " "));
        Assert.DoesNotContain("   at ", intoFresh.Output);
        Assert.False(Directory.Exists(fresh), string.Join(", ", Directory.Exists(fresh) ? Directory.GetFileSystemEntries(fresh) : []));
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(existing).Select(Path.GetFileName));
    }

    [Fact]
    public async Task StorePull_OutIsAFile_ExitsTwoNamingItAndLeavesIt()
    {
        string store = Path.Combine(_root, "store");
        Mmf.Result push = await Mmf.RunAsync("store", "push", "--model", "tests/data/models/tiny", "--to", $"{store}/models/tiny");
        Assert.True(push.ExitCode == 0, push.Output);
        string file = Path.Combine(_root, "a-file");
        await File.WriteAllTextAsync(file, "mine");

        Mmf.Result r = await Mmf.RunAsync("store", "pull", $"{store}/models/tiny", "--out", file);

        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"error: cannot download into '{file}': ", Regex.Replace(r.Output, @"\s+", " "));
        Assert.DoesNotContain("   at ", r.Output);
        Assert.Equal("mine", await File.ReadAllTextAsync(file));
    }
}
