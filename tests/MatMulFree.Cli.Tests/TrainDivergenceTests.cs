namespace MatMulFree.Cli.Tests;

/// <summary>`mmf train` on a run that diverges: it must say so and end non-zero, not finish with exit 0.</summary>
public sealed class TrainDivergenceTests
{
    [Fact]
    public async Task Train_LossBecomesNaN_SaysSoAndExitsNonZero()
    {
        string root = Directory.CreateTempSubdirectory("mmf-cli-train-").FullName;
        try
        {
            string text = Path.Combine(root, "text.txt");
            await File.WriteAllTextAsync(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)));
            string store = Path.Combine(root, "store");
            Mmf.Result prepared = await Mmf.RunAsync("data", "prepare", "--input", text, "--out", "data/t", "--store", store);
            Assert.True(prepared.ExitCode == 0, prepared.Output);

            // A rate no run survives: the weights overflow within a few steps.
            Mmf.Result r = await Mmf.RunAsync("train", "--model-config", "tiny", "--data", "data/t", "--store", store, "--workers", "1",
                "--steps", "20", "--batch", "2", "--seq", "16", "--lr", "1e30", "--run", "nan-run", "--json");

            Assert.True(r.ExitCode != 0, r.Output);
            Assert.Single(r.Output.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
            Assert.Matches("run 'nan-run' failed at step [0-9]+: step [0-9]+: the (loss|gradient norm) is (NaN|infinite); the run diverged",
                System.Text.RegularExpressions.Regex.Replace(r.Output, @"\s+", " "));
            Assert.DoesNotContain("   at ", r.Output);
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
