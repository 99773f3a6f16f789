using System.Net;
using System.Text;
using MatMulFree.Core;

namespace MatMulFree.Cli.Tests;

/// <summary>Output read by scripts (stdout a pipe, no terminal) keeps its rows whole.</summary>
public sealed class OutputWidthTests
{
    [Fact]
    public async Task SessionsLs_PipedWithoutColumns_KeepsALongSessionIdOnOneLine()
    {
        string id = "sess-" + string.Concat(Enumerable.Repeat("0123456789abcdef", 6));
        string body = $$"""{"data":[{"id":"{{id}}","model":"tiny","turns":3,"tokens":1234,"state_bytes":98304,"updated":"2026-12-02T14:00:00Z"}]}""";
        int port = LoopbackPorts.Free(1)[0];
        using var server = new HttpListener();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        var serving = Task.Run(async () =>
        {
            var context = await server.GetContextAsync();
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        });

        Mmf.Result r = await Mmf.RunAsync(new Dictionary<string, string?> { ["COLUMNS"] = null }, "sessions", "ls", "--url", $"http://127.0.0.1:{port}");
        await serving;
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Contains(r.Stdout.Split('\n'), line => line.Contains(id) && line.Contains("98304") && line.Contains("2026-12-02T14:00:00Z"));
    }
}
