using System.Net;
using System.Net.Sockets;

namespace MatMulFree.Core;

/// <summary>Free TCP ports on 127.0.0.1 for the processes this project starts (Azurite, silos, HTTP APIs).</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// <paramref name="count"/> distinct ports that were free a moment ago. Every listener stays open
    /// until all are picked, so the operating system cannot hand out one port twice; they are closed
    /// again on return, for the caller's process to bind.
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }
}
