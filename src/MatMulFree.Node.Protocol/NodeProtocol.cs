namespace MatMulFree.Node.Protocol;

/// <summary>The constants both ends of the node protocol agree on (docs/nodes.md).</summary>
public static class NodeProtocol
{
    /// <summary>The protocol_version of <c>mmf.node.v1</c>; a node refuses any other at Hello.</summary>
    public const uint Version = 1;

    /// <summary>Request metadata carrying the node's bearer token: <c>authorization: Bearer TOKEN</c>.</summary>
    public const string AuthorizationHeader = "authorization";

    /// <summary>Trailer naming the <see cref="Serving.DeviceFault"/> of a refused request, so a client gets back the exact fault a status code alone would blur.</summary>
    public const string FaultTrailer = "mmf-fault";

    /// <summary>The CPU engine's arithmetic: int8 activations, ternary weights, results bit-identical to the engine in-process.</summary>
    public const string Int8TernaryExact = "int8-ternary-exact";

    /// <summary>Largest request a node reads by default: a prefill of a long prompt or a state import fits well under it.</summary>
    public const int DefaultMaxReceiveBytes = 16 * 1024 * 1024;
}
