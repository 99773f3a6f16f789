using System.Diagnostics;
using MatMulFree.Serving;

namespace MatMulFree.Testing;

/// <summary>
/// What the node process tests (<c>mmf node</c> and <c>mmf-node</c>) do alike: wait for the node's
/// ready line, and run one short conversation on a device so that a node's answers can be
/// compared with an in-process device's, logit for logit.
/// </summary>
public static class NodeProcessProbe
{
    private static readonly int[] Prompt = [1, 72, 101, 108, 108, 111];

    /// <summary>The node's one line once it listens; a node that prints anything else, or exits first, fails with what it printed.</summary>
    public static async Task<string> ReadReadyLineAsync(Process node, string program)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        string? line = await node.StandardOutput.ReadLineAsync(timeout.Token);
        if (line is null || !line.StartsWith("node listening on", StringComparison.Ordinal))
            throw new InvalidOperationException(
                $"{program} printed '{line}' instead of its address; stderr: {(node.HasExited ? await node.StandardError.ReadToEndAsync() : "")}");
        return line;
    }

    /// <summary>A prefill and two decode steps of one new session: the logits of all three, one row after another.</summary>
    public static float[] Converse(IDecodeDevice device)
    {
        int v = device.Model!.VocabSize;
        var logits = new float[3 * v];
        var session = device.CreateSession();
        device.Prefill([session], [Prompt], logits.AsSpan(0, v));
        device.Decode([session], [5], logits.AsSpan(v, v));
        device.Decode([session], [9], logits.AsSpan(2 * v, v));
        return logits;
    }
}
