using System.Text.Json;
using MatMulFree.Core;
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

    [Theory]
    [InlineData("torch", false)]
    [InlineData("cpu", false)]
    [InlineData("torch", true)]
    public async Task Score_ModelWithNaNWeights_SaysTheLossIsNaNAndExitsTwo(string engine, bool json)
    {
        string model = CopyOfTinyModel(weights => weights.Select(t => t.Name == ParameterNames.Embeddings
            ? TensorToWrite.Float32(t.Name, t.Shape, Enumerable.Repeat(float.NaN, (int)(t.Shape[0] * t.Shape[1])).ToArray())
            : t).ToList());
        try
        {
            string[] args = ["score", "--model", model, "--input", "tests/data/golden/tiny.golden.safetensors", "--engine", engine];
            Mmf.Result r = await Mmf.RunAsync(json ? [.. args, "--json"] : args);
            Assert.True(r.ExitCode == 2, r.Output);
            Assert.Contains("error:", r.Output);
            Assert.Contains("the loss is NaN", OneLine(r.Output));
            Assert.Contains($"tensor '{ParameterNames.Embeddings}' holds NaN", OneLine(r.Output));
            Assert.DoesNotContain("   at ", r.Output);
        }
        finally { Directory.Delete(model, recursive: true); }
    }

    // Files a user may hand to `mmf score` that are not what they claim: one error line each, exit 2.
    [Theory]
    [InlineData("input-header-not-utf8", "not valid UTF-8")]
    [InlineData("input-overlapping-offsets", "overlaps tensor")]
    [InlineData("config-hidden-act-relu", "\"hidden_act\" is \"relu\"")]
    [InlineData("config-hidden-size-max", "hidden_size 2147483647 is too large")]
    public async Task Score_BadFile_ExitsTwoWithOneErrorLine(string kind, string expected)
    {
        string model = CopyOfTinyModel(weights => weights);
        try
        {
            string input = "tests/data/golden/tiny.golden.safetensors";
            if (kind.StartsWith("input-", StringComparison.Ordinal))
            {
                input = Path.Combine(model, "input.safetensors");
                byte[] header = System.Text.Encoding.UTF8.GetBytes(kind == "input-header-not-utf8"
                    ? """{"input_ids?":{"dtype":"I64","shape":[1,2],"data_offsets":[0,16]}}"""
                    : """{"input_ids":{"dtype":"I64","shape":[1,2],"data_offsets":[0,16]},"x":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}""");
                int mark = Array.IndexOf(header, (byte)'?');
                if (mark >= 0) header[mark] = 0xC3; // a lead byte with no continuation
                await File.WriteAllBytesAsync(input, [.. BitConverter.GetBytes((long)header.Length), .. header, .. new byte[16]]);
            }
            else
            {
                string config = Path.Combine(model, "config.json");
                string text = await File.ReadAllTextAsync(config);
                text = kind == "config-hidden-act-relu"
                    ? text.Replace("\"hidden_act\": \"swish\"", "\"hidden_act\": \"relu\"")
                    : System.Text.RegularExpressions.Regex.Replace(text, "\"hidden_size\": \\d+", "\"hidden_size\": 2147483647");
                Assert.NotEqual(await File.ReadAllTextAsync(config), text);
                await File.WriteAllTextAsync(config, text);
            }

            Mmf.Result r = await Mmf.RunAsync("score", "--model", model, "--input", input);
            Assert.True(r.ExitCode == 2, r.Output);
            string[] lines = r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines, l => l.StartsWith("error:", StringComparison.Ordinal));
            Assert.Contains(expected, OneLine(r.Output));
            Assert.DoesNotContain("   at ", r.Output);
        }
        finally { Directory.Delete(model, recursive: true); }
    }

    // The console wraps long lines (at a space, which it keeps): compare with the text unwrapped.
    private static string OneLine(string output) => System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " ");

    /// <summary>tests/data/models/tiny in a temporary folder, its weights passed through <paramref name="edit"/>.</summary>
    private static string CopyOfTinyModel(Func<List<TensorToWrite>, List<TensorToWrite>> edit)
    {
        string source = Path.Combine(Mmf.RepoRoot, "tests", "data", "models", "tiny");
        string copy = Directory.CreateTempSubdirectory("mmf-cli-model-").FullName;
        foreach (string file in Directory.GetFiles(source))
            if (Path.GetFileName(file) != SafeTensorsCheckpoint.SingleFileName)
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        List<TensorToWrite> weights;
        using (SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(source, SafeTensorsCheckpoint.SingleFileName)))
            weights = file.Tensors.Values.Select(e => TensorToWrite.Float32(e.Name, e.Shape, file.ReadFloat32(e.Name))).ToList();
        SafeTensorsWriter.Write(Path.Combine(copy, SafeTensorsCheckpoint.SingleFileName), edit(weights));
        return copy;
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
