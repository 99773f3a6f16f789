namespace MatMulFree.Cli.Tests;

/// <summary>Output read by scripts (stdout a pipe, no terminal) keeps its rows whole.</summary>
public sealed class OutputWidthTests
{
    [Fact]
    public async Task SessionsLs_PipedWithoutColumns_KeepsALongSessionIdOnOneLine()
    {
        string id = "sess-" + string.Concat(Enumerable.Repeat("0123456789abcdef", 6));
        using var server = new OneRequestServer(200,
            $$"""{"data":[{"id":"{{id}}","model":"tiny","turns":3,"tokens":1234,"state_bytes":98304,"updated":"2026-12-02T14:00:00Z"}]}""");

        Mmf.Result r = await Mmf.RunAsync(new Dictionary<string, string?> { ["COLUMNS"] = null }, "sessions", "ls", "--url", server.Url);
        await server.RequestAsync();
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Contains(r.Stdout.Split('\n'), line => line.Contains(id) && line.Contains("98304") && line.Contains("2026-12-02T14:00:00Z"));
    }
}
