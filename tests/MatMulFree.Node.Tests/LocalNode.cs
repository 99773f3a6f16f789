using MatMulFree.Core;
using MatMulFree.Node.Protocol;
using MatMulFree.Serving;

namespace MatMulFree.Node.Tests;

/// <summary>A real node on a free loopback port serving a CPU device, and the device it serves.</summary>
internal sealed class LocalNode : IAsyncDisposable
{
    private LocalNode(NodeServer server, CpuDevice device)
    {
        Server = server;
        Device = device;
    }

    public NodeServer Server { get; }

    public CpuDevice Device { get; }

    public Uri Address => Server.Address;

    public static async Task<LocalNode> StartAsync(int maxBatch = 4, int maxSessions = 16, string? token = null, int? maxReceiveBytes = null, bool load = false)
    {
        var device = new CpuDevice(threads: 1, maxBatch, maxSessions);
        if (load)
            await device.LoadAsync(ModelSource.Folder(Serving.Library.Tests.TinyModel.Directory));
        var options = new NodeOptions(LoopbackPorts.Free(1)[0], token) { MaxReceiveBytes = maxReceiveBytes ?? NodeProtocol.DefaultMaxReceiveBytes };
        return new LocalNode(await NodeServer.StartAsync(device, options), device);
    }

    public Task<RemoteDevice> ConnectAsync(string? token = null) => RemoteDevice.ConnectAsync(Address, new RemoteDeviceOptions(token));

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Device.Dispose();
    }
}
