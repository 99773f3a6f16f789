using MatMulFree.Core;

namespace MatMulFree.Cli.Tests;

/// <summary>`mmf serve --node` and `--no-local` values it cannot serve with: refused at start with one error line naming the value, exit code 2.</summary>
public sealed class ServeNodeFlagTests
{
    [Theory]
    [InlineData("not a url", "error: node 'not a url' is not an http:// or https:// URL")]
    [InlineData("ftp://127.0.0.1:5700", "error: node 'ftp://127.0.0.1:5700' is not an http:// or https:// URL")]
    public async Task Serve_NodeThatIsNoUrl_ExitsTwoNamingIt(string node, string expected)
    {
        Mmf.Result r = await Mmf.RunAsync("serve", "--model", "tests/data/models/tiny", "--port", $"{LoopbackPorts.Free(1)[0]}", "--node", node);
        AssertOneError(r, expected);
    }

    [Fact]
    public async Task Serve_NodeThatDoesNotAnswer_ExitsTwoNamingIt()
    {
        string node = $"http://127.0.0.1:{LoopbackPorts.Free(1)[0]}";
        Mmf.Result r = await Mmf.RunAsync("serve", "--model", "tests/data/models/tiny", "--port", $"{LoopbackPorts.Free(1)[0]}", "--node", node);
        AssertOneError(r, $"error: --node: node {node}");
    }

    [Fact]
    public async Task Serve_NoLocalWithoutNode_ExitsTwo()
    {
        Mmf.Result r = await Mmf.RunAsync("serve", "--model", "tests/data/models/tiny", "--no-local");
        AssertOneError(r, "error: --no-local serves only through nodes: give at least one --node URL");
    }

    private static void AssertOneError(Mmf.Result r, string expected)
    {
        Assert.True(r.ExitCode == 2, r.Output);
        Assert.Contains(expected, r.Output);
        Assert.Single(r.Output.Split('\n'), line => line.StartsWith("error:", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", r.Output);
        Assert.DoesNotContain("Exception", r.Output);
    }
}
