using Grpc.Core;
using Grpc.Net.Client;
using MatMulFree.Node.Protocol;
using MatMulFree.Node.Protocol.V1;
using MatMulFree.Serving;
using MatMulFree.Serving.Library.Tests;

namespace MatMulFree.Node.Tests;

/// <summary>What a node does with clients and requests it must refuse, and that it serves everyone else afterwards.</summary>
public sealed class NodeFaultTests
{
    private static readonly int[] Prompt = [1, 72, 101, 108, 108, 111];

    [Fact]
    public async Task RemoteDevice_ConnectAsync_OtherProtocolVersionIsRefusedNamingBoth()
    {
        await using var node = await LocalNode.StartAsync(load: true);
        var error = await Assert.ThrowsAsync<DeviceUnavailableException>(() =>
            RemoteDevice.ConnectAsync(node.Address, new RemoteDeviceOptions { ProtocolVersion = 7 }));
        Assert.Contains("FailedPrecondition", error.Message);
        Assert.Contains("version 7", error.Message);
        Assert.Contains($"version {NodeProtocol.Version}", error.Message);
        await AssertServesAsync(node);
    }

    [Fact]
    public async Task NodeService_Hello_OtherProtocolVersionIsFailedPrecondition()
    {
        await using var node = await LocalNode.StartAsync(load: true);
        using var channel = GrpcChannel.ForAddress(node.Address);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await new Protocol.V1.Node.NodeClient(channel).HelloAsync(new HelloRequest { ProtocolVersion = 2 }));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
    }

    [Fact]
    public async Task RemoteDevice_ConnectAsync_MissingTokenIsRefused()
    {
        await using var node = await LocalNode.StartAsync(token: "s3cret", load: true);
        var error = await Assert.ThrowsAsync<DeviceUnavailableException>(() => node.ConnectAsync(token: null));
        Assert.Contains("refused the token", error.Message);
        Assert.Contains("authorization: Bearer", error.Message);
    }

    [Fact]
    public async Task RemoteDevice_ConnectAsync_WrongTokenIsRefused()
    {
        await using var node = await LocalNode.StartAsync(token: "s3cret", load: true);
        var error = await Assert.ThrowsAsync<DeviceUnavailableException>(() => node.ConnectAsync(token: "guess"));
        Assert.Contains("not this node's", error.Message);
        using var device = await node.ConnectAsync(token: "s3cret");
        Assert.True(device.Health.Ready, device.Health.Detail);
    }

    [Fact]
    public async Task NodeService_EveryCall_WithoutTokenIsUnauthenticated()
    {
        await using var node = await LocalNode.StartAsync(token: "s3cret", load: true);
        using var channel = GrpcChannel.ForAddress(node.Address);
        var client = new Protocol.V1.Node.NodeClient(channel);
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () => await client.CreateSessionAsync(new CreateSessionRequest()))).StatusCode);
        using var step = client.Step();
        // The node may refuse the stream before the write lands, or after: either way the status is the same.
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await step.RequestStream.WriteAsync(new StepRequest { StepId = 1, Decode = new DecodeBatch { Sessions = { 1 }, Tokens = { 1 } } });
            await step.ResponseStream.MoveNext();
        });
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal(0, node.Device.Counters.Tokens);
    }

    [Fact]
    public async Task RemoteDevice_ImportSession_AboveTheNodesMessageSizeIsRefusedAndTheNodeServesOn()
    {
        await using var node = await LocalNode.StartAsync(maxReceiveBytes: 64 * 1024, load: true);
        using var device = await node.ConnectAsync();
        var error = Assert.Throws<DeviceRequestException>(() => device.ImportSession(new byte[1024 * 1024]));
        Assert.Equal(DeviceFault.BadMessage, error.Fault);
        Assert.Contains("exceeds", error.Message, StringComparison.OrdinalIgnoreCase);
        await AssertServesAsync(node);
        AssertServes(device);
    }

    [Fact]
    public async Task RemoteDevice_Decode_AboveTheNodesMessageSizeIsRefusedAndTheStreamReopens()
    {
        await using var node = await LocalNode.StartAsync(maxBatch: 4, maxReceiveBytes: 1024, load: true);
        using var device = await node.ConnectAsync();
        var session = device.CreateSession();
        var huge = Enumerable.Range(0, 2000).Select(i => 1 + (i % 200)).ToArray();
        var error = Assert.Throws<DeviceRequestException>(() => device.Prefill([session], [huge], new float[device.Model!.VocabSize]));
        Assert.Equal(DeviceFault.BadMessage, error.Fault);
        AssertServes(device);
    }

    [Fact]
    public async Task NodeService_ImportSession_MalformedMessageIsRefusedAndTheNodeServesOn()
    {
        await using var node = await LocalNode.StartAsync(load: true);
        using var channel = GrpcChannel.ForAddress(node.Address);
        var raw = new Method<byte[], byte[]>(MethodType.Unary, "mmf.node.v1.Node", "ImportSession",
            Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        // Field 1, length-delimited, claiming 100 bytes that are not there.
        byte[] malformed = [0x0A, 0x64, 0x01, 0x02];
        var error = await Assert.ThrowsAsync<RpcException>(async () => await channel.CreateCallInvoker().AsyncUnaryCall(raw, null, new CallOptions(), malformed));
        Assert.Equal(StatusCode.Unknown, error.StatusCode);
        Assert.Contains("InvalidProtocolBufferException", error.Status.Detail);
        await AssertServesAsync(node);
    }

    [Fact]
    public async Task RemoteDevice_Decode_RefusedBatchEndsOnlyThatStreamAndOtherClientsServeOn()
    {
        await using var node = await LocalNode.StartAsync(load: true);
        using var bad = await node.ConnectAsync();
        using var good = await node.ConnectAsync();
        var goodSession = good.CreateSession();
        good.Prefill([goodSession], [Prompt], new float[good.Model!.VocabSize]);

        var badSession = bad.CreateSession();
        int v = bad.Model!.VocabSize;
        Assert.Equal(DeviceFault.TokenOutOfVocabulary, Assert.Throws<DeviceRequestException>(() => bad.Decode([badSession], [v + 5], new float[v])).Fault);
        Assert.Equal(DeviceFault.UnknownSession, Assert.Throws<DeviceRequestException>(() => bad.Decode([new DeviceSession(999_999)], [1], new float[v])).Fault);
        Assert.Equal(DeviceFault.BatchTooLarge, Assert.Throws<DeviceRequestException>(() =>
            bad.Decode(Enumerable.Repeat(badSession, 5).ToArray(), new int[5], new float[5 * v])).Fault);
        Assert.Equal(DeviceFault.BatchMismatch, Assert.Throws<DeviceRequestException>(() => bad.Decode([badSession], [1, 2], new float[v])).Fault);

        // The good client's stream was never touched; the bad one's reopens.
        good.Decode([goodSession], [7], new float[v]);
        AssertServes(bad);
    }

    [Fact]
    public async Task RemoteDevice_Decode_AfterTheNodeStopsIsUnavailable()
    {
        var node = await LocalNode.StartAsync(load: true);
        using var device = await node.ConnectAsync();
        var session = device.CreateSession();
        int v = device.Model!.VocabSize;
        device.Prefill([session], [Prompt], new float[v]);
        await node.DisposeAsync();

        var step = Assert.Throws<DeviceUnavailableException>(() => device.Decode([session], [3], new float[v]));
        Assert.Contains(node.Address.ToString().TrimEnd('/'), step.Message);
        Assert.Throws<DeviceUnavailableException>(() => device.CreateSession());
        Assert.Equal(DeviceStatus.Faulted, device.Health.Status);
    }

    [Fact]
    public async Task RemoteDevice_Decode_NoAnswerWithinTheDeadlineIsUnavailableAndTheNodeServesOn()
    {
        var cpu = new CpuDevice(threads: 1, maxBatch: 4, maxSessions: 16);
        await cpu.LoadAsync(ModelSource.Folder(TinyModel.Directory));
        using var device = new GatedDevice(cpu);
        await using var server = await NodeServer.StartAsync(device, new NodeOptions(MatMulFree.Core.LoopbackPorts.Free(1)[0]));
        using var remote = await RemoteDevice.ConnectAsync(server.Address, new RemoteDeviceOptions(CallTimeout: TimeSpan.FromMilliseconds(300)));
        var session = remote.CreateSession();
        int v = remote.Model!.VocabSize;

        device.Gate.Reset();
        var error = Assert.Throws<DeviceUnavailableException>(() => remote.Decode([session], [3], new float[v]));
        Assert.Contains("no answer within", error.Message);
        device.Gate.Set();

        // The stream was abandoned; the next step opens another and the node answers it.
        remote.Decode([session], [4], new float[v]);
    }

    [Fact]
    public async Task NodeService_Step_MessageWithNoBatchIsInvalidArgument()
    {
        await using var node = await LocalNode.StartAsync(load: true);
        using var channel = GrpcChannel.ForAddress(node.Address);
        using var step = new Protocol.V1.Node.NodeClient(channel).Step();
        await step.RequestStream.WriteAsync(new StepRequest { StepId = 9 });
        var error = await Assert.ThrowsAsync<RpcException>(() => step.ResponseStream.MoveNext());
        // (The write cannot race the refusal here: the node answers only after reading the message.)
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(nameof(DeviceFault.BadMessage), error.Trailers.GetValue(NodeProtocol.FaultTrailer));
        Assert.Contains("step 9", error.Status.Detail);
        await AssertServesAsync(node);
    }

    [Fact]
    public async Task RemoteDevice_LoadAsync_EmptyLocationIsRefusedByName()
    {
        await using var node = await LocalNode.StartAsync();
        using var device = await node.ConnectAsync();
        Assert.Null(device.Model);
        var error = await Assert.ThrowsAsync<DeviceRequestException>(() => device.LoadAsync(new ModelSource("")));
        Assert.Equal(DeviceFault.BadModel, error.Fault);
        Assert.Contains("location is empty", error.Message);
    }

    [Fact]
    public async Task RemoteDevice_Decode_AfterDisposeIsUnavailable()
    {
        await using var node = await LocalNode.StartAsync(load: true);
        var device = await node.ConnectAsync();
        var session = device.CreateSession();
        device.Dispose();
        Assert.Throws<DeviceUnavailableException>(() => device.Decode([session], [3], new float[256]));
        Assert.Equal(DeviceStatus.Disposed, device.Health.Status);
    }

    [Fact]
    public async Task RemoteDevice_ConnectAsync_NothingListeningIsUnavailable()
    {
        var address = new Uri($"http://127.0.0.1:{MatMulFree.Core.LoopbackPorts.Free(1)[0]}");
        var error = await Assert.ThrowsAsync<DeviceUnavailableException>(() => RemoteDevice.ConnectAsync(address));
        Assert.Contains(address.Authority, error.Message);
    }

    [Fact]
    public async Task RemoteDevice_ConnectAsync_ReportsTheNodesDevice()
    {
        await using var node = await LocalNode.StartAsync(maxBatch: 4, maxSessions: 16, load: true);
        using var device = await node.ConnectAsync();
        Assert.Equal("cpu", device.Kind);
        Assert.Equal(NodeProtocol.Int8TernaryExact, device.NumericMode);
        Assert.Equal(new DeviceCapacity(4, 16), device.Capacity);
        Assert.Equal(node.Device.Model, device.Model);
    }

    private static async Task AssertServesAsync(LocalNode node)
    {
        using var device = await node.ConnectAsync();
        AssertServes(device);
    }

    private static void AssertServes(IDecodeDevice device)
    {
        var session = device.CreateSession();
        var logits = new float[device.Model!.VocabSize];
        device.Prefill([session], [Prompt], logits);
        Assert.Contains(logits, x => x != 0);
        device.DropSession(session);
    }
}
