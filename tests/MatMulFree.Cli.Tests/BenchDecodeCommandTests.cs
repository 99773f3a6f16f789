using System.Text.Json;

namespace MatMulFree.Cli.Tests;

public sealed class BenchDecodeCommandTests
{
    [Fact]
    public async Task BenchDecode_JsonWithoutTorchComparison_PrintsEveryFigureAndNullsTheSkippedOnes()
    {
        // The tiny shape keeps this a smoke test of the command, not a benchmark.
        Mmf.Result r = await Mmf.RunAsync("bench", "decode", "--shape", "tiny", "--seconds", "0.05", "--torch-steps", "0", "--json");
        Assert.True(r.ExitCode == 0, r.Output);
        using JsonDocument json = JsonDocument.Parse(r.Stdout);
        var root = json.RootElement;
        foreach (var key in new[] { "tokens_per_s_b1", "tokens_per_s_b64", "bandwidth_fraction_b1", "memory_ratio_vs_fp32", "read_bandwidth_gb_s" })
            Assert.True(root.GetProperty(key).GetDouble() > 0, key);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("speedup_vs_torch_fp32").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("torch_fp32_tokens_per_s_b1").ValueKind);
        Assert.Equal(4 * 256 * sizeof(float), root.GetProperty("state_bytes_per_session").GetInt64()); // L = 4, d = 256
        // The headline figure is the best of the rounds, every one of which is reported.
        var rounds = root.GetProperty("tokens_per_s_b64_rounds").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(3, rounds.Length);
        Assert.Equal(rounds.Max(), root.GetProperty("tokens_per_s_b64").GetDouble());
    }

    [Theory]
    [InlineData("--rounds", "0", "--rounds must be ≥ 1, got 0")]
    [InlineData("--shape", "9b", "--shape must be one of")]
    [InlineData("--seconds", "-1", "--seconds must be > 0")]
    public async Task BenchDecode_BadOption_ExitsTwoAndNamesIt(string option, string value, string expected)
    {
        Mmf.Result r = await Mmf.RunAsync("bench", "decode", option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Output);
    }
}
