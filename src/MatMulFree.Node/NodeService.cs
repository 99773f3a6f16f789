using System.Runtime.InteropServices;
using Google.Protobuf;
using Grpc.Core;
using MatMulFree.Node.Protocol;
using MatMulFree.Node.Protocol.V1;
using MatMulFree.Serving;
using Microsoft.Extensions.Hosting;
using V1Node = MatMulFree.Node.Protocol.V1.Node;

namespace MatMulFree.Node;

/// <summary>
/// The node protocol over one <see cref="IDecodeDevice"/>: each call is translated to one device
/// call, one at a time (a device need not be reentrant, and several clients may share a node). A
/// refused request ends its call with the status of its fault and leaves the device to everyone else.
/// </summary>
internal sealed class NodeService(IDecodeDevice device, NodeOptions options, IHostApplicationLifetime lifetime) : V1Node.NodeBase
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public override Task<HelloReply> Hello(HelloRequest request, ServerCallContext context)
    {
        if (request.ProtocolVersion != NodeProtocol.Version)
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"client speaks node protocol version {request.ProtocolVersion}, this node speaks version {NodeProtocol.Version} (mmf.node.v{NodeProtocol.Version})"));
        var reply = new HelloReply
        {
            ProtocolVersion = NodeProtocol.Version,
            DeviceKind = device.Kind,
            NumericMode = options.NumericMode,
            Capacity = new Capacity { MaxBatch = (uint)device.Capacity.MaxBatch, MaxSessions = (uint)device.Capacity.MaxSessions },
        };
        if (device.Model is { } model)
            reply.Model = ToInfo(model);
        return Task.FromResult(reply);
    }

    public override async Task<ModelInfo> Load(LoadRequest request, ServerCallContext context)
    {
        if (request.Location.Length == 0)
            throw Refused(DeviceFault.BadModel, "load: location is empty");
        var source = new ModelSource(request.Location, NullIfEmpty(request.Version), NullIfEmpty(request.Checksum));
        await _gate.WaitAsync(context.CancellationToken);
        try
        {
            return ToInfo(await device.LoadAsync(source, context.CancellationToken));
        }
        catch (Exception e) when (Map(e) is { } status)
        {
            throw status;
        }
        finally
        {
            _gate.Release();
        }
    }

    public override Task<SessionReply> CreateSession(CreateSessionRequest request, ServerCallContext context) =>
        Serialized(context, () => new SessionReply { Session = device.CreateSession().Id });

    public override Task<SessionReply> ImportSession(ImportSessionRequest request, ServerCallContext context) =>
        Serialized(context, () => new SessionReply { Session = device.ImportSession(request.State.Span).Id });

    public override Task<ExportSessionReply> ExportSession(SessionRef request, ServerCallContext context) =>
        Serialized(context, () =>
        {
            var exported = device.ExportSession(new DeviceSession(request.Session));
            return new ExportSessionReply { State = UnsafeByteOperations.UnsafeWrap(exported.Bytes), Tokens = exported.Tokens };
        });

    public override Task<SessionReply> CopySession(SessionRef request, ServerCallContext context) =>
        Serialized(context, () => new SessionReply { Session = device.CopySession(new DeviceSession(request.Session)).Id });

    public override Task<DropSessionReply> DropSession(SessionRef request, ServerCallContext context) =>
        Serialized(context, () =>
        {
            device.DropSession(new DeviceSession(request.Session));
            return new DropSessionReply();
        });

    public override Task<HealthReply> Health(HealthRequest request, ServerCallContext context)
    {
        var health = device.Health;
        var counters = device.Counters;
        var reply = new HealthReply
        {
            Status = health.Status switch
            {
                DeviceStatus.Ready => HealthReply.Types.Status.Ready,
                DeviceStatus.Unloaded => HealthReply.Types.Status.Unloaded,
                DeviceStatus.Faulted => HealthReply.Types.Status.Faulted,
                _ => HealthReply.Types.Status.Disposed,
            },
            Detail = health.Detail,
            Tokens = counters.Tokens,
            Steps = counters.Steps,
            BusyUs = (long)counters.BusyTime.TotalMicroseconds,
        };
        if (counters.Joules is { } joules)
            reply.Joules = joules;
        return Task.FromResult(reply);
    }

    public override async Task Step(IAsyncStreamReader<StepRequest> requestStream, IServerStreamWriter<StepReply> responseStream, ServerCallContext context)
    {
        // A stopping node ends open streams at once instead of waiting out the host's shutdown timeout.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            while (await requestStream.MoveNext(ended.Token))
            {
                var reply = await Serialized(context, () => Run(requestStream.Current));
                await responseStream.WriteAsync(reply, ended.Token);
            }
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the node is stopping"));
        }
    }

    private StepReply Run(StepRequest request)
    {
        int vocab = device.Model?.VocabSize ?? throw new DeviceRequestException(DeviceFault.NotLoaded, $"{device.Kind} device: no model loaded");
        float[] logits;
        int rows;
        switch (request.BatchCase)
        {
            case StepRequest.BatchOneofCase.Decode:
                var decode = request.Decode;
                rows = decode.Sessions.Count;
                CheckRows(rows, decode.Tokens.Count, "decode", "tokens");
                logits = new float[(long)rows * vocab];
                device.Decode(Sessions(decode.Sessions), decode.Tokens.ToArray(), logits);
                break;
            case StepRequest.BatchOneofCase.Prefill:
                var prefill = request.Prefill;
                rows = prefill.Sessions.Count;
                CheckRows(rows, prefill.Prompts.Count, "prefill", "prompts");
                logits = new float[(long)rows * vocab];
                device.Prefill(Sessions(prefill.Sessions), prefill.Prompts.Select(p => p.Tokens.ToArray()).ToArray(), logits);
                break;
            default:
                throw new DeviceRequestException(DeviceFault.BadMessage, $"step {request.StepId}: neither prefill nor decode is set");
        }
        return new StepReply
        {
            StepId = request.StepId,
            Rows = (uint)rows,
            VocabSize = (uint)vocab,
            Logits = UnsafeByteOperations.UnsafeWrap(MemoryMarshal.AsBytes(logits.AsSpan()).ToArray()),
        };
    }

    /// <summary>The device checks capacity itself; this bounds what the node allocates for logits before it asks.</summary>
    private void CheckRows(int rows, int inputs, string what, string inputName)
    {
        if (rows != inputs)
            throw new DeviceRequestException(DeviceFault.BatchMismatch, $"{what}: {rows} sessions but {inputs} {inputName}");
        if (rows > device.Capacity.MaxBatch)
            throw new DeviceRequestException(DeviceFault.BatchTooLarge, $"{what}: a batch of {rows} sessions is above this device's capacity of {device.Capacity.MaxBatch}");
    }

    private static DeviceSession[] Sessions(IEnumerable<ulong> ids) => ids.Select(id => new DeviceSession(id)).ToArray();

    private async Task<T> Serialized<T>(ServerCallContext context, Func<T> call)
    {
        await _gate.WaitAsync(context.CancellationToken);
        try
        {
            return call();
        }
        catch (Exception e) when (Map(e) is { } status)
        {
            throw status;
        }
        finally
        {
            _gate.Release();
        }
    }

    private static RpcException? Map(Exception e) => e switch
    {
        DeviceRequestException r => Refused(r.Fault, r.Message),
        DeviceUnavailableException u => new RpcException(new Status(StatusCode.Unavailable, u.Message)),
        _ => null,
    };

    private static RpcException Refused(DeviceFault fault, string message) =>
        new(new Status(FaultCodes.ToStatus(fault), message), new Metadata { { NodeProtocol.FaultTrailer, fault.ToString() } });

    private static ModelInfo ToInfo(DeviceModel m) => new()
    {
        Identity = m.Identity,
        VocabSize = (uint)m.VocabSize,
        EosTokenId = m.EosTokenId,
        StateBytes = (uint)m.StateBytes,
    };

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}
