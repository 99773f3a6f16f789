using System.Text.Json;
using MatMulFree.Core.SafeTensors;

namespace MatMulFree.Cli.Tests;

public sealed class ScoreCommandTests
{
    [Theory]
    [InlineData("tiny")]
    [InlineData("small")]
    [InlineData("long")]
    [InlineData("bf16")]
    public async Task Score_GoldenSet_BothEnginesReproduceTheAuthorsLoss(string set)
    {
        float golden;
        using (SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(Mmf.RepoRoot, "tests", "data", "golden", $"{set}.golden.safetensors")))
            golden = file.ReadFloat32("loss")[0];

        double torch = await ScoreAsync(set, "torch");
        double cpu = await ScoreAsync(set, "cpu");

        Assert.InRange(Math.Abs(torch - golden), 0, 2e-3);
        Assert.InRange(Math.Abs(cpu - golden), 0, 2e-3);
        Assert.InRange(Math.Abs(cpu - torch), 0, 2e-3);
    }

    [Fact]
    public async Task Score_TextInput_CountsTokensOfTheText()
    {
        string text = Path.Combine(Path.GetTempPath(), $"mmf-score-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(text, "Ternary weights need only additions.");
        try
        {
            Mmf.Result r = await Mmf.RunAsync("score", "--model", "tests/data/models/tiny", "--input", text, "--json");
            Assert.True(r.ExitCode == 0, r.Output);
            using JsonDocument json = JsonDocument.Parse(r.Stdout);
            Assert.Equal(36, json.RootElement.GetProperty("tokens").GetInt64()); // 36 bytes + BOS = 37 ids, 36 predictions
            Assert.True(json.RootElement.GetProperty("perplexity").GetDouble() > 1);
        }
        finally { File.Delete(text); }
    }

    [Theory]
    [InlineData(new[] { "score", "--input", "x" }, "--model is required")]
    [InlineData(new[] { "score", "--model", "tests/data/models/tiny", "--input", "tests/data/golden/tiny.golden.safetensors", "--engine", "gpu" }, "--engine must be torch or cpu")]
    [InlineData(new[] { "score", "--model", "no/such/folder", "--input", "x" }, "no/such/folder: model folder not found")]
    [InlineData(new[] { "score", "--model", "tests/data/models/tiny", "--input", "tests/data/golden/small.golden.safetensors" }, "outside the vocabulary")]
    [InlineData(new[] { "score", "--model", "tests/data/models/tiny", "--input", "tests/data/golden/tiny.config.json.nope" }, "input file not found")]
    public async Task Score_BadInput_ExitsTwoWithAClearMessage(string[] args, string expected)
    {
        Mmf.Result r = await Mmf.RunAsync(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Output.ReplaceLineEndings(" "));
        Assert.DoesNotContain("   at ", r.Output); // no stack trace for the user's mistakes
    }

    private static async Task<double> ScoreAsync(string set, string engine)
    {
        Mmf.Result r = await Mmf.RunAsync("score", "--model", $"tests/data/models/{set}",
            "--input", $"tests/data/golden/{set}.golden.safetensors", "--engine", engine, "--json");
        Assert.True(r.ExitCode == 0, r.Output);
        using JsonDocument json = JsonDocument.Parse(r.Stdout);
        return json.RootElement.GetProperty("loss").GetDouble();
    }
}
