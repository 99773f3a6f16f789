using MatMulFree.Serving;
using MatMulFree.Serving.Library.Tests;

namespace MatMulFree.Node.Tests;

/// <summary>The device contract over the wire: a CPU device behind a real node, bit-identical to the engine alone.</summary>
public sealed class RemoteDeviceTests : DecodeDeviceContract
{
    private readonly List<LocalNode> _nodes = [];

    protected override IDecodeDevice CreateDevice(int maxBatch, int maxSessions)
    {
        var node = LocalNode.StartAsync(maxBatch, maxSessions).GetAwaiter().GetResult();
        lock (_nodes)
            _nodes.Add(node);
        return node.ConnectAsync().GetAwaiter().GetResult();
    }

    protected override bool ReportsEnergy => false;

    protected override void DisposeHosts()
    {
        foreach (var node in _nodes)
            node.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
