using System.Text.RegularExpressions;

namespace MatMulFree.Cli.Tests;

/// <summary>The content of `--help`, beyond its exit code (see <see cref="HelpTests"/>).</summary>
public sealed partial class HelpTextTests
{
    [Fact]
    public async Task Help_Root_EveryCommandHasADescription()
    {
        Mmf.Result r = await Mmf.RunAsync("--help");
        Assert.True(r.ExitCode == 0, r.Output);
        var commands = CommandLine().Matches(r.Stdout[r.Stdout.IndexOf("COMMANDS:", StringComparison.Ordinal)..]);
        Assert.Contains(commands, m => m.Groups[1].Value == "data");
        foreach (Match m in commands)
            Assert.False(string.IsNullOrWhiteSpace(m.Groups[2].Value), $"`mmf {m.Groups[1].Value}` has no description in --help");
    }

    [Theory]
    [InlineData("--steps", "200")]
    [InlineData("--workers", "1")]
    [InlineData("--checkpoint-every", "100")]
    [InlineData("--model-config", "tiny")]
    public async Task Help_Train_ShowsEachDefaultInTheDefaultColumn(string flag, string value)
    {
        Mmf.Result r = await Mmf.RunAsync("train", "--help");
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Contains("DEFAULT", r.Stdout);
        Assert.Matches(new Regex($@"^\s+{Regex.Escape(flag)} <\w+>\s+{Regex.Escape(value)}\s", RegexOptions.Multiline), r.Stdout);
    }

    [Fact]
    public async Task Help_Serve_NamesItsStoreFlagAsEveryOtherCommandDoes()
    {
        Mmf.Result r = await Mmf.RunAsync("serve", "--help");
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Contains("--store <STORE>", r.Stdout);
        Assert.DoesNotContain("--storage", r.Stdout);
    }

    // "    name    description": group 2 is empty when the command has none.
    [GeneratedRegex(@"^ {4}([a-z][a-z0-9-]*)(?: {2,}(\S.*?))?\s*$", RegexOptions.Multiline)]
    private static partial Regex CommandLine();
}
