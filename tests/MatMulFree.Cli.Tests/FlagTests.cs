using System.Text.RegularExpressions;

namespace MatMulFree.Cli.Tests;

/// <summary>What the parser does with flags a user mistypes: every command refuses them by name.</summary>
public sealed class FlagTests
{
    [Theory]
    [InlineData("--apikey", "--api-key", new[] { "serve", "--apikey", "K", "--model", "no/such/model" })]
    [InlineData("--storage", "--store", new[] { "serve", "--storage", "UseDevelopmentStorage=true", "--model", "no/such/model" })]
    [InlineData("--jsn", "--json", new[] { "score", "--model", "tests/data/models/tiny", "--input", "x", "--jsn" })]
    [InlineData("--checkpoint-evry", "--checkpoint-every", new[] { "train", "--data", "data/x", "--checkpoint-evry", "5" })]
    [InlineData("--ot", "--out", new[] { "store", "pull", "models/x", "--ot", "somewhere" })]
    [InlineData("--max-token", "--max-tokens", new[] { "generate", "--model", "no/such/model", "--prompt", "p", "--max-token", "3" })]
    [InlineData("--jsno", "--json", new[] { "runs", "show", "r", "--jsno" })]
    [InlineData("--modle", "--model", new[] { "score", "--modle", "m", "--input", "x" })]
    public async Task UnknownFlag_AnyCommand_ExitsTwoNamingItAndTheClosestFlag(string typo, string closest, string[] args)
    {
        Mmf.Result r = await Mmf.RunAsync(args);
        Assert.True(r.ExitCode == 2, r.Output);
        string output = OneLine(r.Output);
        Assert.Contains($"error: unknown flag {typo}", output);
        Assert.Contains($"did you mean {closest}?", output);
        Assert.DoesNotContain("   at ", r.Output);
    }

    [Fact]
    public async Task UnknownFlag_OtherwiseValidCommand_NamesTheCommand()
    {
        Mmf.Result r = await Mmf.RunAsync("serve", "--model", "no/such/model", "--apikey", "K");
        Assert.True(r.ExitCode == 2, r.Output);
        Assert.Contains("error: unknown flag --apikey for `mmf serve`; did you mean --api-key?", OneLine(r.Output));
    }

    [Fact]
    public async Task UnknownFlag_NothingClose_ExitsTwoPointingToHelp()
    {
        Mmf.Result r = await Mmf.RunAsync("convert", "--model", "no/such/model", "--out", "x", "--zzzzzzzz");
        Assert.True(r.ExitCode == 2, r.Output);
        Assert.Contains("error: unknown flag --zzzzzzzz for `mmf convert` (see `mmf convert --help`)", OneLine(r.Output));
    }

    [Theory]
    [InlineData("--max-tokens", "abc", "a whole number", new[] { "generate", "--model", "tests/data/models/tiny", "--prompt", "p", "--max-tokens", "abc" })]
    [InlineData("--seed", "-1", "a whole number ≥ 0", new[] { "generate", "--model", "tests/data/models/tiny", "--prompt", "p", "--seed", "-1" })]
    [InlineData("--temperature", "warm", "a number", new[] { "generate", "--model", "tests/data/models/tiny", "--prompt", "p", "--temperature=warm" })]
    [InlineData("--port", "eighty", "a whole number", new[] { "serve", "--model", "tests/data/models/tiny", "--port", "eighty" })]
    public async Task BadNumber_Flag_ExitsTwoNamingTheFlagAndTheValue(string flag, string value, string expected, string[] args)
    {
        Mmf.Result r = await Mmf.RunAsync(args);
        Assert.True(r.ExitCode == 2, r.Output);
        Assert.Contains($"error: {flag} must be {expected}, got '{value}'", OneLine(r.Output));
        Assert.DoesNotContain("   at ", r.Output);
    }

    [Fact]
    public async Task Version_Flag_PrintsTheVersionAndExitsZero()
    {
        Mmf.Result r = await Mmf.RunAsync("--version");
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Matches(new Regex(@"^\d+\.\d+\.\d+\S*\s*$"), r.Stdout);
    }

    // Messages may wrap at the console's width; what they say does not depend on where.
    private static string OneLine(string output) => Regex.Replace(output, @"\s+", " ");
}
