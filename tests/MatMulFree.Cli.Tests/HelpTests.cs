using System.Text.RegularExpressions;

namespace MatMulFree.Cli.Tests;

public sealed partial class HelpTests
{
    [Fact]
    public async Task Help_EveryCommandAndBranch_ExitsZeroWithUsage()
    {
        var checkedCommands = new List<string>();
        await CheckAsync([], checkedCommands);
        Assert.Contains("score", checkedCommands);
        Assert.True(checkedCommands.Count >= 4, string.Join(", ", checkedCommands));
    }

    private static async Task CheckAsync(string[] command, List<string> checkedCommands)
    {
        Mmf.Result r = await Mmf.RunAsync([.. command, "--help"]);
        Assert.True(r.ExitCode == 0, $"mmf {string.Join(' ', command)} --help: {r.Output}");
        Assert.Contains("USAGE", r.Stdout);
        Assert.DoesNotContain("Exception", r.Output);
        checkedCommands.Add(string.Join(' ', command));
        foreach (string sub in SubCommands(r.Stdout))
            await CheckAsync([.. command, sub], checkedCommands);
    }

    // Spectre's COMMANDS section: "    name    description"; wrapped description lines are indented further.
    private static IEnumerable<string> SubCommands(string help)
    {
        int start = help.IndexOf("COMMANDS:", StringComparison.Ordinal);
        if (start < 0) yield break;
        foreach (Match m in CommandLine().Matches(help[start..]))
            yield return m.Groups[1].Value;
    }

    [GeneratedRegex(@"^ {4}([a-z][a-z0-9-]*) {2,}", RegexOptions.Multiline)]
    private static partial Regex CommandLine();
}
