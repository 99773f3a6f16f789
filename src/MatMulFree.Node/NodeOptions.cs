using System.Net;
using MatMulFree.Node.Protocol;

namespace MatMulFree.Node;

/// <summary>How a node listens and whom it serves.</summary>
/// <param name="Port">TCP port; 0 lets the system pick one (<see cref="NodeServer.Address"/> says which).</param>
/// <param name="Token">Bearer token every call must carry; null serves anyone who can connect (loopback only, then).</param>
/// <param name="NumericMode">The device's arithmetic as Hello reports it.</param>
public sealed record NodeOptions(int Port, string? Token = null, string NumericMode = NodeProtocol.Int8TernaryExact)
{
    /// <summary>Where to listen: loopback by default, so a node without a token is never reachable from outside.</summary>
    public IPAddress Bind { get; init; } = IPAddress.Loopback;

    /// <summary>Largest request the node reads; a bigger one is refused with RESOURCE_EXHAUSTED and the node serves on.</summary>
    public int MaxReceiveBytes { get; init; } = NodeProtocol.DefaultMaxReceiveBytes;
}
