using System.Diagnostics;

namespace MatMulFree.Testing;

/// <summary>Stops a child process as an operator would, so a test sees its graceful shutdown.</summary>
public static class GracefulStop
{
    /// <summary>
    /// SIGTERM, then a wait; a process that has not exited after <paramref name="grace"/> (30 s by
    /// default) is killed with its children, so a test fails by its exit code instead of leaving it
    /// running.
    /// </summary>
    public static async Task StopAsync(Process process, TimeSpan? grace = null)
    {
        if (process.HasExited)
            return;
        using (var kill = Process.Start("kill", ["-TERM", $"{process.Id}"]))
            await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }
}
