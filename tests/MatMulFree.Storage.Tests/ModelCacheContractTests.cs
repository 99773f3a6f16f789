using System.Runtime.Versioning;

namespace MatMulFree.Storage.Tests;

/// <summary>
/// The local cache of models pulled from a store for serving: what a failed pull leaves, which
/// store a copy came from, a copy changed on disk, two resolvers at once; against each store.
/// </summary>
public abstract class ModelCacheContractTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly DirectoryInfo scratch = Directory.CreateTempSubdirectory("mmf-cache-test-");

    /// <summary>The store under test: every call within a test gives the same blobs.</summary>
    protected abstract IBlobStore CreateStore();

    /// <summary>A second store of the same kind, separate from <see cref="CreateStore"/>'s.</summary>
    protected abstract IBlobStore CreateOtherStore();

    public void Dispose() => scratch.Delete(recursive: true);

    protected string Scratch(string name) => Path.Combine(scratch.FullName, name);

    // A new instance per call, as a new process would have: the cache keeps nothing in memory.
    private ModelCache Cache() => new(Scratch("cache"));

    private async Task<(ModelStore Models, ModelVersion Version)> PushAsync(int seed, string version = "v1")
    {
        var models = new ModelStore(CreateStore());
        return (models, await models.PushAsync("relx", TestBytes.ModelFolder(Scratch($"model-{seed}"), seed), version));
    }

    [Fact]
    public async Task ModelCache_ResolveAsync_PullFailedThenStoreRepaired_ServesTheRepairedVersion()
    {
        var (models, version) = await PushAsync(seed: 1);
        string weights = $"{version.Prefix}/model.safetensors";
        await models.Blobs.PutAsync(weights, new MemoryStream(TestBytes.Tampered(TestBytes.Weights(seed: 1))));

        var e = await Assert.ThrowsAsync<BlobIntegrityException>(() => Cache().ResolveAsync(models, version));
        string[] leftAfterFailure = Directory.GetFiles(Scratch("cache"), "*", SearchOption.AllDirectories);
        await models.Blobs.PutAsync(weights, new MemoryStream(TestBytes.Weights(seed: 1)));
        string folder = await Cache().ResolveAsync(models, version);

        Assert.Contains($"'{weights}' in store {models.Blobs.Location}", e.Message);
        Assert.Empty(leftAfterFailure);
        Assert.Equal(TestBytes.Weights(seed: 1), await File.ReadAllBytesAsync(Path.Combine(folder, "model.safetensors")));
    }

    [Fact]
    public async Task ModelCache_ResolveAsync_SameNameAndVersionInTwoStores_KeepsEachStoresOwnCopy()
    {
        var (models, version) = await PushAsync(seed: 1);
        var other = new ModelStore(CreateOtherStore());
        var otherVersion = await other.PushAsync("relx", TestBytes.ModelFolder(Scratch("other-model"), seed: 2), "v1");

        string folder = await Cache().ResolveAsync(models, version);
        string otherFolder = await Cache().ResolveAsync(other, otherVersion);

        Assert.NotEqual(folder, otherFolder);
        Assert.Equal(TestBytes.Weights(seed: 1), await File.ReadAllBytesAsync(Path.Combine(folder, "model.safetensors")));
        Assert.Equal(TestBytes.Weights(seed: 2), await File.ReadAllBytesAsync(Path.Combine(otherFolder, "model.safetensors")));
    }

    [Fact]
    public async Task ModelCache_ResolveAsync_VersionDeletedAndPushedAgain_GetsItsOwnCopy()
    {
        var (models, version) = await PushAsync(seed: 1);
        string first = await Cache().ResolveAsync(models, version);
        await foreach (var blob in models.Blobs.ListAsync(version.Prefix + "/"))
            await models.Blobs.DeleteAsync(blob.Path);
        var again = await models.PushAsync("relx", TestBytes.ModelFolder(Scratch("model-3"), seed: 3), "v1");

        string second = await Cache().ResolveAsync(models, again);

        Assert.NotEqual(first, second);
        Assert.Equal(TestBytes.Weights(seed: 3), await File.ReadAllBytesAsync(Path.Combine(second, "model.safetensors")));
    }

    [Fact]
    public async Task ModelCache_ResolveAsync_CachedFileChanged_DownloadsItAgain()
    {
        var (models, version) = await PushAsync(seed: 1);
        string folder = await Cache().ResolveAsync(models, version);
        string cachedWeights = Path.Combine(folder, "model.safetensors");
        await File.WriteAllBytesAsync(cachedWeights, TestBytes.Tampered(TestBytes.Weights(seed: 1)));
        var notices = new List<string>();

        string again = await Cache().ResolveAsync(models, version, notices.Add);

        Assert.Equal(folder, again);
        Assert.Equal(TestBytes.Weights(seed: 1), await File.ReadAllBytesAsync(cachedWeights));
        Assert.Contains(notices, n => n.Contains("'model.safetensors': SHA-256", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModelCache_ResolveAsync_CachedCopyGainedAFile_DownloadsItAgain()
    {
        // A tokenizer.json that the manifest does not list would change how the model tokenizes.
        var (models, version) = await PushAsync(seed: 1);
        string folder = await Cache().ResolveAsync(models, version);
        await File.WriteAllTextAsync(Path.Combine(folder, "tokenizer.json"), "{}");

        string again = await Cache().ResolveAsync(models, version);

        Assert.Equal(["config.json", "manifest.json", "model.safetensors"],
            Directory.GetFileSystemEntries(again).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task ModelCache_ResolveAsync_NewCache_EveryFolderIsTheOwnersAlone()
    {
        var (models, version) = await PushAsync(seed: 1);

        string folder = await Cache().ResolveAsync(models, version);

        Assert.StartsWith(Scratch("cache") + "/", folder);
        for (var dir = new DirectoryInfo(folder); dir.FullName != scratch.FullName; dir = dir.Parent!)
            Assert.True(dir.UnixFileMode == OwnerOnly, $"{dir.FullName}: {dir.UnixFileMode}");
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task ModelCache_ResolveAsync_RootOpenToOthers_ClosedToTheOwner()
    {
        var (models, version) = await PushAsync(seed: 1);
        Directory.CreateDirectory(Scratch("cache"));
        File.SetUnixFileMode(Scratch("cache"), OwnerOnly | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);

        await Cache().ResolveAsync(models, version);

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Scratch("cache")));
    }

    [Fact]
    public async Task ModelCache_ResolveAsync_AnotherProcessRenamesFirst_UsesItsCopyAndLeavesNoTemporaryFolder()
    {
        var (models, version) = await PushAsync(seed: 1);
        string? winner = null;
        // The other resolver runs whole while this one has begun downloading into its temporary folder.
        var slow = new ModelStore(new BeforeFirstDownloadStore(models.Blobs, async () => winner = await Cache().ResolveAsync(models, version)));
        var notices = new List<string>();

        string loser = await Cache().ResolveAsync(slow, version, notices.Add);

        Assert.Equal(winner, loser);
        Assert.Contains(notices, n => n.Contains("first; using its copy", StringComparison.Ordinal));
        Assert.Equal(TestBytes.Weights(seed: 1), await File.ReadAllBytesAsync(Path.Combine(loser, "model.safetensors")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(loser)!, ".mmf-*"));
    }

    [Fact]
    public async Task ModelCache_ResolveAsync_TemporaryFolderOfAProcessGone_Removed()
    {
        var (models, version) = await PushAsync(seed: 1);
        string parent = Path.GetDirectoryName(Cache().FolderFor(models.Blobs.Location, version))!;
        // Linux process ids stop at 4,194,304: this one was killed mid-download a day ago.
        string abandoned = Directory.CreateDirectory(Path.Combine(parent, ".mmf-partial-999999999-0")).FullName;
        string live = Directory.CreateDirectory(Path.Combine(parent, $".mmf-partial-{Environment.ProcessId}-0")).FullName;
        await File.WriteAllBytesAsync(Path.Combine(abandoned, "model.safetensors"), new byte[1000]);
        await File.WriteAllBytesAsync(Path.Combine(live, "model.safetensors"), new byte[1000]);
        string recent = Directory.CreateDirectory(Path.Combine(parent, ".mmf-partial-999999998-0")).FullName;
        foreach (string path in new[] { Path.Combine(abandoned, "model.safetensors"), Path.Combine(live, "model.safetensors") })
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddDays(-1));
        foreach (string folder in new[] { abandoned, live })
            Directory.SetLastWriteTimeUtc(folder, DateTime.UtcNow.AddDays(-1));

        await Cache().ResolveAsync(models, version);

        Assert.False(Directory.Exists(abandoned));
        Assert.True(Directory.Exists(live), "the folder of a process still running was removed");
        Assert.True(Directory.Exists(recent), "a folder written to within the hour was removed (its process may be in another PID namespace)");
    }

    [Fact]
    public async Task ModelCache_ResolveAsync_FourAtOnce_AllGetOneWholeVerifiedCopy()
    {
        var (models, version) = await PushAsync(seed: 1);

        string[] folders = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Cache().ResolveAsync(models, version))));

        string folder = Assert.Single(folders.Distinct());
        Assert.All(await SnapshotFolder.VerifyAsync(folder, version.Manifest, CancellationToken.None), c => Assert.Equal(FileCheckStatus.Ok, c.Status));
        Assert.Equal([Path.GetFileName(folder)], Directory.GetFileSystemEntries(Path.GetDirectoryName(folder)!).Select(Path.GetFileName));
    }
}
