using System.Diagnostics;
using System.Net;
using System.Text;
using MatMulFree.Core;

namespace MatMulFree.Cli.Tests;

/// <summary>`mmf serve` as a user runs it: the real binary in the background, stopped with SIGTERM as Ctrl+C or a service manager would.</summary>
public sealed class ServeCommandTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Serve_StartAnswerAndStop_LogsNoWarnings()
    {
        int port = LoopbackPorts.Free(1)[0];
        using Process serve = Start("serve", "--model", "tests/data/models/tiny", "--port", $"{port}");
        Task<string> stdout = serve.StandardOutput.ReadToEndAsync();
        Task<string> stderr = serve.StandardError.ReadToEndAsync();
        HttpStatusCode answered;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            await WaitUntilHealthyAsync(http, serve);
            using var completion = await http.PostAsync("/v1/completions",
                new StringContent("""{"model":"tiny","prompt":"Hello","max_tokens":4,"seed":1}""", Encoding.UTF8, "application/json"));
            answered = completion.StatusCode;
        }
        finally
        {
            await StopAsync(serve);
        }
        string log = await stderr, output = await stdout + log;

        Assert.Equal(HttpStatusCode.OK, answered);
        Assert.True(serve.ExitCode == 0, output);
        string[] complaints = log.Split('\n').Where(l => l.StartsWith("warn:") || l.StartsWith("fail:") || l.StartsWith("crit:") || l.Contains("deadlock")).ToArray();
        Assert.True(complaints.Length == 0, log);
    }

    private static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Mmf.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mmf.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        return Process.Start(start)!;
    }

    private static async Task WaitUntilHealthyAsync(HttpClient http, Process serve)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(serve.HasExited, $"mmf serve exited with code {(serve.HasExited ? serve.ExitCode : 0)} before answering");
            try
            {
                using var health = await http.GetAsync("/healthz");
                if (health.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException) { }
            if (deadline.Elapsed > StartTimeout)
                throw new TimeoutException($"mmf serve did not answer /healthz within {StartTimeout}");
            await Task.Delay(200);
        }
    }

    /// <summary>SIGTERM and a graceful stop; killed (and the test failed by its exit code) if it hangs.</summary>
    private static async Task StopAsync(Process serve)
    {
        if (serve.HasExited)
            return;
        using (var kill = Process.Start("kill", ["-TERM", $"{serve.Id}"]))
            await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await serve.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            serve.Kill(entireProcessTree: true);
            await serve.WaitForExitAsync();
        }
    }
}
