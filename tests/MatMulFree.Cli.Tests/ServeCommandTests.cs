using System.Net;
using System.Net.Sockets;

namespace MatMulFree.Cli.Tests;

public sealed class ServeCommandTests
{
    [Fact]
    public async Task Serve_PortAlreadyInUse_ExitsTwoWithOneErrorLine()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        Mmf.Result r = await Mmf.RunAsync("serve", "--model", "tests/data/models/tiny", "--port", $"{port}");
        AssertPortInUse(r, port);
    }

    [Fact]
    public async Task Serve_OrleansDefaultPortsInUse_StillStartsItsSilo()
    {
        // Held here, or already by another silo on this machine: either way busy, as under a first `mmf serve`.
        using var silo = TryHold(11111);
        using var gateway = TryHold(30000);
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        // The silo starts on ports of its own, so it is the HTTP port, taken too, that stops this one.
        Mmf.Result r = await Mmf.RunAsync("serve", "--model", "tests/data/models/tiny", "--port", $"{port}");
        AssertPortInUse(r, port);
    }

    private static TcpListener? TryHold(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return listener;
        }
        catch (SocketException)
        {
            listener.Dispose();
            return null;
        }
    }

    private static void AssertPortInUse(Mmf.Result r, int port)
    {
        Assert.True(r.ExitCode == 2, r.Output);
        Assert.Contains($"error: port {port} on 127.0.0.1 is already in use", r.Output);
        Assert.Single(r.Output.Split('\n'), line => line.StartsWith("error:", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", r.Output);
        Assert.DoesNotContain("Exception", r.Output);
    }
}
