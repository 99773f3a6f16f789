using System.Text;

namespace MatMulFree.Storage.Tests;

/// <summary>
/// Models and checkpoints on top of a blob store, including the fault cases (a cancelled upload,
/// a tampered blob, two writers racing on <c>latest</c>), run against each implementation.
/// </summary>
public abstract class SnapshotStoreContractTests : IDisposable
{
    private readonly DirectoryInfo scratch = Directory.CreateTempSubdirectory("mmf-snapshot-test-");

    protected abstract IBlobStore CreateStore();

    public void Dispose() => scratch.Delete(recursive: true);

    protected string Scratch(string name) => Path.Combine(scratch.FullName, name);

    private static IReadOnlyList<SnapshotFile> CheckpointFiles(int seed, int weightBytes = 3 << 20) =>
    [
        SnapshotFile.FromBytes("model.safetensors", TestBytes.Random(weightBytes, seed)),
        SnapshotFile.FromBytes("optimizer.safetensors", TestBytes.Random(5000, seed + 1)),
        SnapshotFile.FromBytes("trainer_state.json", Encoding.UTF8.GetBytes($"{{\"step\":{seed},\"rng\":[1,2,3],\"data_position\":4096}}")),
    ];

    [Fact]
    public async Task CheckpointStore_SaveAsync_Twice_LatestIsSecondAndLoadsBackVerified()
    {
        var checkpoints = new CheckpointStore(CreateStore());
        await checkpoints.SaveAsync("run1", 100, CheckpointFiles(1));
        var files = CheckpointFiles(2);
        await checkpoints.SaveAsync("run1", 200, files, validationLoss: 2.5);

        var latest = await checkpoints.GetLatestAsync("run1");
        var loaded = await checkpoints.LoadAsync("run1", Scratch("load"));

        Assert.Equal(200, latest!.Step);
        Assert.Equal(200, loaded.Step);
        Assert.Equal(2.5, loaded.Manifest.ValidationLoss);
        foreach (var file in files)
        {
            await using var expected = file.Open();
            Assert.Equal(await TestBytes.ReadAllAsync(expected), await File.ReadAllBytesAsync(Path.Combine(Scratch("load"), file.Path)));
        }
        Assert.True(File.Exists(Path.Combine(Scratch("load"), StoreLayout.ManifestFile)));
        Assert.Empty(Directory.GetFileSystemEntries(Scratch("load"), ".mmf-*"));
    }

    [Fact]
    public async Task CheckpointStore_SaveAsync_CancelledHalfway_LatestStaysOnPreviousWholeCheckpoint()
    {
        var checkpoints = new CheckpointStore(CreateStore());
        await checkpoints.SaveAsync("run1", 100, CheckpointFiles(1));
        var weights = TestBytes.Random(4 << 20, 7);
        using var cancellation = new CancellationTokenSource();
        IReadOnlyList<SnapshotFile> interrupted =
        [
            SnapshotFile.FromBytes("trainer_state.json", [1, 2, 3]),
            new("model.safetensors", weights.Length, () => new CancellingStream(weights, weights.Length / 2, cancellation)),
        ];

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            checkpoints.SaveAsync("run1", 200, interrupted, cancellationToken: cancellation.Token));

        Assert.Equal(100, (await checkpoints.GetLatestAsync("run1"))!.Step);
        Assert.Equal([100L], (await checkpoints.ListAsync("run1")).Select(c => c.Step));
        var loaded = await checkpoints.LoadAsync("run1", Scratch("resume"));
        Assert.Equal(100, loaded.Step);
        Assert.All(await checkpoints.VerifyAsync(loaded), c => Assert.True(c.IsOk, c.Describe()));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => checkpoints.LoadAsync("run1", Scratch("bad"), step: 200));
    }

    [Fact]
    public async Task CheckpointStore_LoadAsync_BlobChangedAfterUpload_RefusedAndReportedByVerify()
    {
        var store = CreateStore();
        var checkpoints = new CheckpointStore(store);
        var saved = await checkpoints.SaveAsync("run1", 100, CheckpointFiles(1));
        var weightsPath = $"{saved.Prefix}/model.safetensors";
        // Same length, one byte flipped: only the hash can tell.
        var tampered = TestBytes.Random(3 << 20, 1);
        tampered[12345] ^= 0xFF;
        await store.PutAsync(weightsPath, new MemoryStream(tampered));

        var checks = await checkpoints.VerifyAsync(saved);
        var e = await Assert.ThrowsAsync<BlobIntegrityException>(() => checkpoints.LoadAsync("run1", Scratch("load")));

        var bad = Assert.Single(checks, c => !c.IsOk);
        Assert.Equal(("model.safetensors", FileCheckStatus.HashMismatch), (bad.Path, bad.Status));
        Assert.Contains(weightsPath, e.Message);
        Assert.False(Directory.Exists(Scratch("load")));
    }

    [Fact]
    public async Task CheckpointStore_VerifyAsync_TruncatedAndMissingBlobs_ReportedAsSuch()
    {
        var store = CreateStore();
        var checkpoints = new CheckpointStore(store);
        var saved = await checkpoints.SaveAsync("run1", 5, CheckpointFiles(1));
        await store.PutAsync($"{saved.Prefix}/optimizer.safetensors", new MemoryStream([1, 2]));
        await store.DeleteAsync($"{saved.Prefix}/trainer_state.json");

        var checks = (await checkpoints.VerifyAsync(saved)).ToDictionary(c => c.Path, c => c.Status);

        Assert.Equal(FileCheckStatus.Ok, checks["model.safetensors"]);
        Assert.Equal(FileCheckStatus.SizeMismatch, checks["optimizer.safetensors"]);
        Assert.Equal(FileCheckStatus.Missing, checks["trainer_state.json"]);
    }

    [Fact]
    public async Task CheckpointStore_MoveLatestAsync_TwoConcurrentWriters_ExactlyOneWinsOtherGetsConflict()
    {
        var checkpoints = new CheckpointStore(CreateStore());
        await checkpoints.SaveAsync("run1", 100, CheckpointFiles(1, 1000));
        await checkpoints.WriteAsync("run1", 200, CheckpointFiles(2, 1000));
        await checkpoints.WriteAsync("run1", 300, CheckpointFiles(3, 1000));
        var seen = await checkpoints.GetLatestAsync("run1");

        var results = await Task.WhenAll(new long[] { 200, 300 }.Select(step => Task.Run(async () =>
        {
            try
            {
                await checkpoints.MoveLatestAsync("run1", step, seen);
                return (Step: step, Error: (BlobConflictException?)null);
            }
            catch (BlobConflictException e)
            {
                return (Step: step, Error: e);
            }
        })));

        var winner = Assert.Single(results, r => r.Error is null);
        var loser = Assert.Single(results, r => r.Error is not null);
        Assert.Equal(winner.Step, (await checkpoints.GetLatestAsync("run1"))!.Step);
        Assert.Contains("runs/run1/latest", loser.Error!.Message);
        Assert.Contains("another writer", loser.Error.Message);
    }

    [Fact]
    public async Task CheckpointStore_MoveLatestAsync_IncompleteCheckpoint_Refused()
    {
        var store = CreateStore();
        var checkpoints = new CheckpointStore(store);
        await checkpoints.SaveAsync("run1", 1, CheckpointFiles(1, 100));
        await store.PutAsync("runs/run1/checkpoints/2/model.safetensors", new MemoryStream([1]));

        await Assert.ThrowsAsync<BlobNotFoundException>(() => checkpoints.MoveLatestAsync("run1", 2, null));
        Assert.Equal(1, (await checkpoints.GetLatestAsync("run1"))!.Step);
    }

    [Fact]
    public async Task CheckpointStore_ApplyRetentionAsync_KeepsLastKAndBestAndDropsDebris()
    {
        var store = CreateStore();
        var checkpoints = new CheckpointStore(store);
        double[] losses = [3.0, 1.5, 2.8, 2.9, 2.7];
        for (var i = 0; i < losses.Length; i++)
            await checkpoints.SaveAsync("run1", (i + 1) * 10, CheckpointFiles(i, 100), losses[i]);
        await store.PutAsync("runs/run1/checkpoints/25/model.safetensors", new MemoryStream([1]));
        await store.PutAsync("runs/run1/checkpoints/60/model.safetensors", new MemoryStream([1]));

        var deleted = await checkpoints.ApplyRetentionAsync("run1", new RetentionPolicy(KeepLast: 2));

        Assert.Equal([10L, 25, 30], deleted);
        Assert.Equal([20L, 40, 50], (await checkpoints.ListAsync("run1")).Select(c => c.Step));
        Assert.Null(await store.GetPropertiesAsync("runs/run1/checkpoints/10/model.safetensors"));
        Assert.NotNull(await store.GetPropertiesAsync("runs/run1/checkpoints/60/model.safetensors"));
        Assert.Equal(50, (await checkpoints.GetLatestAsync("run1"))!.Step);
    }

    [Fact]
    public async Task CheckpointStore_LoadAsync_RunWithoutCheckpoints_ThrowsNamingRun()
    {
        var e = await Assert.ThrowsAsync<BlobNotFoundException>(() => new CheckpointStore(CreateStore()).LoadAsync("ghost", Scratch("x")));
        Assert.Contains("'ghost'", e.Message);
    }

    [Fact]
    public async Task ModelStore_PushAsync_TwiceWithoutVersion_NumbersVersionsAndPullsNewest()
    {
        var models = new ModelStore(CreateStore());
        var folder = Directory.CreateDirectory(Scratch("model"));
        await File.WriteAllTextAsync(Path.Combine(folder.FullName, "config.json"), "{\"model_type\":\"hgrn_bit\"}");
        await File.WriteAllBytesAsync(Path.Combine(folder.FullName, "model.safetensors"), TestBytes.Random(2 << 20, 9));
        Directory.CreateDirectory(Path.Combine(folder.FullName, "extra"));
        await File.WriteAllTextAsync(Path.Combine(folder.FullName, "extra", "notes.txt"), "v1");

        var first = await models.PushAsync("tiny", folder.FullName);
        await File.WriteAllTextAsync(Path.Combine(folder.FullName, "extra", "notes.txt"), "v2");
        var second = await models.PushAsync("tiny", folder.FullName);
        var pulled = await models.PullAsync("tiny", null, Scratch("pulled"));

        Assert.Equal(("1", "2"), (first.Version, second.Version));
        Assert.Equal("2", pulled.Version);
        Assert.Equal("v2", await File.ReadAllTextAsync(Path.Combine(Scratch("pulled"), "extra", "notes.txt")));
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(folder.FullName, "model.safetensors")),
            await File.ReadAllBytesAsync(Path.Combine(Scratch("pulled"), "model.safetensors")));
        Assert.Equal(["1", "2"], (await models.ListVersionsAsync("tiny")).Select(v => v.Version));
        Assert.Equal(["tiny"], await models.ListModelsAsync());
    }

    [Fact]
    public async Task ModelStore_PullAsync_BlobChangedAfterUpload_LeavesNothingInDestination()
    {
        var store = CreateStore();
        var models = new ModelStore(store);
        var pushed = await models.PushAsync("tiny", TestBytes.ModelFolder(Scratch("model"), seed: 3));
        // config.json comes first and is intact: only the weights after it fail their check.
        await store.PutAsync($"{pushed.Prefix}/model.safetensors", new MemoryStream(TestBytes.Tampered(TestBytes.Weights(seed: 3))));
        var existing = Directory.CreateDirectory(Scratch("existing"));
        await File.WriteAllTextAsync(Path.Combine(existing.FullName, "config.json"), "mine");

        var e = await Assert.ThrowsAsync<BlobIntegrityException>(() => models.PullAsync("tiny", null, Scratch("fresh")));
        await Assert.ThrowsAsync<BlobIntegrityException>(() => models.PullAsync("tiny", null, existing.FullName));

        Assert.Contains($"{pushed.Prefix}/model.safetensors", e.Message);
        Assert.False(Directory.Exists(Scratch("fresh")));
        Assert.Equal(["config.json"], Directory.GetFileSystemEntries(existing.FullName).Select(Path.GetFileName));
        Assert.Equal("mine", await File.ReadAllTextAsync(Path.Combine(existing.FullName, "config.json")));
    }

    [Fact]
    public async Task ModelStore_PullAsync_CancelledAfterTheFirstFile_LeavesNothingInDestination()
    {
        var models = new ModelStore(CreateStore());
        await models.PushAsync("tiny", TestBytes.ModelFolder(Scratch("model"), seed: 3));
        // Not disposed: per-file reports posted to the thread pool may still arrive after the test ends.
        var cancellation = new CancellationTokenSource();
        var cancelOnFirstReport = new Progress(cancellation.Cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            models.PullAsync("tiny", null, Scratch("pulled"), cancelOnFirstReport, cancellation.Token));

        Assert.False(Directory.Exists(Scratch("pulled")));
    }

    /// <summary>Runs an action on every report, on the reporting thread (unlike <see cref="Progress{T}"/>, which posts).</summary>
    private sealed class Progress(Action onReport) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => onReport();
    }

    [Fact]
    public async Task ModelStore_PushAsync_FolderOfSymbolicLinks_UploadsTheFilesTheyPointTo()
    {
        // A Hugging Face cache snapshot: every file a link into a folder of blobs.
        var blobs = Directory.CreateDirectory(Scratch("blobs"));
        var folder = Directory.CreateDirectory(Scratch("snapshot"));
        byte[] weights = TestBytes.Random(3 << 20, 11);
        await File.WriteAllBytesAsync(Path.Combine(blobs.FullName, "a1b2"), weights);
        await File.WriteAllTextAsync(Path.Combine(blobs.FullName, "c3d4"), "{\"model_type\":\"hgrn_bit\"}");
        File.CreateSymbolicLink(Path.Combine(folder.FullName, "model.safetensors"), Path.Combine("..", "blobs", "a1b2"));
        File.CreateSymbolicLink(Path.Combine(folder.FullName, "config.json"), Path.Combine(blobs.FullName, "c3d4"));
        var models = new ModelStore(CreateStore());

        var pushed = await models.PushAsync("linked", folder.FullName);
        await models.PullAsync("linked", pushed.Version, Scratch("pulled"));

        Assert.Equal(weights, await File.ReadAllBytesAsync(Path.Combine(Scratch("pulled"), "model.safetensors")));
        Assert.Equal("{\"model_type\":\"hgrn_bit\"}", await File.ReadAllTextAsync(Path.Combine(Scratch("pulled"), "config.json")));
        Assert.Null(new FileInfo(Path.Combine(Scratch("pulled"), "model.safetensors")).LinkTarget); // pulled as a file, not a link
    }

    [Fact]
    public async Task ModelStore_PushAsync_BrokenSymbolicLink_ThrowsNamingIt()
    {
        var folder = Directory.CreateDirectory(Scratch("broken"));
        File.CreateSymbolicLink(Path.Combine(folder.FullName, "model.safetensors"), Path.Combine(folder.FullName, "gone"));
        var models = new ModelStore(CreateStore());

        var e = await Assert.ThrowsAsync<StoreException>(() => models.PushAsync("broken", folder.FullName));
        Assert.Contains("model.safetensors' is a link to", e.Message);
    }

    [Fact]
    public async Task ModelStore_PushAsync_ConcurrentWithoutVersion_EachGetsItsOwnWholeVersion()
    {
        var folder = Directory.CreateTempSubdirectory("mmf-push-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(folder.FullName, "model.safetensors"), TestBytes.Random(300_000, seed: 7));
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "config.json"), "{}");
            var models = new ModelStore(CreateStore());

            var pushes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => models.PushAsync("race", folder.FullName))));

            Assert.Equal(4, pushes.Select(p => p.Version).Distinct().Count());
            foreach (var version in pushes)
                Assert.All(await models.VerifyAsync(version), check => Assert.Equal(FileCheckStatus.Ok, check.Status));
        }
        finally { folder.Delete(recursive: true); }
    }

    [Fact]
    public async Task ModelStore_PushAsync_ExistingVersion_ThrowsConflict()
    {
        var models = new ModelStore(CreateStore());
        var folder = Directory.CreateDirectory(Scratch("model"));
        await File.WriteAllTextAsync(Path.Combine(folder.FullName, "config.json"), "{}");
        await models.PushAsync("tiny", folder.FullName, "release-1");

        var e = await Assert.ThrowsAsync<BlobConflictException>(() => models.PushAsync("tiny", folder.FullName, "release-1"));
        Assert.Contains("release-1", e.Message);
    }

    [Fact]
    public async Task ModelStore_ResolveAsync_MissingVersion_ThrowsNamingModelAndVersion()
    {
        var e = await Assert.ThrowsAsync<BlobNotFoundException>(() => new ModelStore(CreateStore()).ResolveAsync("tiny", "7"));
        Assert.Contains("'tiny' version '7'", e.Message);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("-x")]
    public async Task ModelStore_ResolveAsync_BadName_ThrowsStoreLocation(string name)
    {
        await Assert.ThrowsAsync<StoreLocationException>(() => new ModelStore(CreateStore()).ResolveAsync(name));
    }
}
