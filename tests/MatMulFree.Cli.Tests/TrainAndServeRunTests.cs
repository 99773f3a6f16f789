namespace MatMulFree.Cli.Tests;

/// <summary>A short training run in a folder store, and what it prints at the end.</summary>
public sealed class TrainAndServeRunTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"mmf-train-run-{Guid.NewGuid():N}");

    // A name of its own: pulled checkpoints are cached by run name and step.
    private readonly string _run = $"t-{Guid.NewGuid():N}";

    private string Store => Path.Combine(_root, "store");

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Train_EndOfRun_PrintsWhereItsLatestCheckpointIs()
    {
        Mmf.Result train = await TrainAsync();
        string checkpoint = Path.Combine(Store, "runs", _run, "checkpoints", "2");
        Assert.Contains($"latest checkpoint: file://{checkpoint}", train.Stdout);
        Assert.True(File.Exists(Path.Combine(checkpoint, "config.json")), checkpoint);
    }

    private async Task<Mmf.Result> TrainAsync()
    {
        string text = Path.Combine(_root, "corpus.txt");
        Directory.CreateDirectory(_root);
        await File.WriteAllTextAsync(text, string.Concat(Enumerable.Repeat("Ternary weights need only additions. ", 200)));
        Mmf.Result prepare = await Mmf.RunAsync("data", "prepare", "--input", text, "--store", Store, "--out", "data/t");
        Assert.True(prepare.ExitCode == 0, prepare.Output);
        Mmf.Result train = await Mmf.RunAsync("train", "--model-config", "tiny", "--data", "data/t", "--store", Store,
            "--steps", "2", "--batch", "1", "--seq", "16", "--checkpoint-every", "2", "--run", _run);
        Assert.True(train.ExitCode == 0, train.Output);
        return train;
    }
}
