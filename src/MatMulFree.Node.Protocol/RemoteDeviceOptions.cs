namespace MatMulFree.Node.Protocol;

/// <summary>How a <see cref="RemoteDevice"/> talks to its node.</summary>
/// <param name="Token">The node's bearer token, or null for a node that asks for none.</param>
/// <param name="CallTimeout">Deadline of every call but Load, and of each step on the stream: a node that does not answer within it is unavailable.</param>
/// <param name="LoadTimeout">Deadline of Load: converting a checkpoint of the 370M model takes seconds to minutes.</param>
public sealed record RemoteDeviceOptions(string? Token = null, TimeSpan? CallTimeout = null, TimeSpan? LoadTimeout = null)
{
    /// <summary>The protocol version sent at Hello; only a test of version refusal sets another.</summary>
    public uint ProtocolVersion { get; init; } = NodeProtocol.Version;

    internal TimeSpan Call => CallTimeout ?? TimeSpan.FromSeconds(30);

    internal TimeSpan Load => LoadTimeout ?? TimeSpan.FromMinutes(10);
}
