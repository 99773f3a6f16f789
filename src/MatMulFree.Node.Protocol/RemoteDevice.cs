using System.Runtime.InteropServices;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using MatMulFree.Node.Protocol.V1;
using MatMulFree.Serving;

namespace MatMulFree.Node.Protocol;

/// <summary>
/// A device on a node, over the node protocol: every <see cref="IDecodeDevice"/> call is one gRPC
/// call, and prefill and decode batches share one bidirectional Step stream (one message each way
/// per batch). A refused request comes back as the <see cref="DeviceRequestException"/> the node's
/// device raised; a node that cannot be reached, times out or fails inside is a
/// <see cref="DeviceUnavailableException"/> naming the node.
/// </summary>
/// <remarks>
/// The interface is synchronous because its one caller is the batcher's dedicated driver thread;
/// the calls block that thread, never a scheduler's.
/// </remarks>
public sealed class RemoteDevice : IDecodeDevice
{
    private readonly GrpcChannel _channel;
    private readonly V1.Node.NodeClient _client;
    private readonly RemoteDeviceOptions _options;
    private readonly Metadata _headers = [];
    private readonly CancellationTokenSource _disposing = new();
    private AsyncDuplexStreamingCall<StepRequest, StepReply>? _stream;
    private ulong _nextStep;
    private DeviceModel? _model;
    private bool _disposed;

    private RemoteDevice(Uri address, GrpcChannel channel, RemoteDeviceOptions options, HelloReply hello)
    {
        Address = address;
        _channel = channel;
        _client = new V1.Node.NodeClient(channel);
        _options = options;
        if (options.Token is { } token)
            _headers.Add(NodeProtocol.AuthorizationHeader, "Bearer " + token);
        Kind = hello.DeviceKind;
        NumericMode = hello.NumericMode;
        Capacity = new DeviceCapacity((int)hello.Capacity.MaxBatch, (int)hello.Capacity.MaxSessions);
        _model = hello.Model is { } model ? ToModel(model) : null;
    }

    /// <summary>
    /// Connects and shakes hands: the node's device kind, capacity, numeric mode and model are read
    /// once here. A node that speaks another protocol version, refuses the token or cannot be
    /// reached is a <see cref="DeviceUnavailableException"/> that says which.
    /// </summary>
    public static async Task<RemoteDevice> ConnectAsync(Uri address, RemoteDeviceOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new RemoteDeviceOptions();
        var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            // Logits of a full batch of a large vocabulary are megabytes; the node bounds what it sends.
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        });
        try
        {
            var headers = new Metadata();
            if (options.Token is { } token)
                headers.Add(NodeProtocol.AuthorizationHeader, "Bearer " + token);
            var hello = await new V1.Node.NodeClient(channel).HelloAsync(
                new HelloRequest { ProtocolVersion = options.ProtocolVersion },
                new CallOptions(headers, DateTime.UtcNow + options.Call, cancellationToken));
            if (hello.ProtocolVersion != options.ProtocolVersion)
                throw new DeviceUnavailableException($"node {address}: answers protocol version {hello.ProtocolVersion}, this client speaks {options.ProtocolVersion}");
            return new RemoteDevice(address, channel, options, hello);
        }
        catch (RpcException e)
        {
            channel.Dispose();
            throw new DeviceUnavailableException($"node {address}: {Describe(e)}");
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    public Uri Address { get; }

    public string Kind { get; }

    /// <summary>The node's arithmetic as it reported it at Hello (e.g. <see cref="NodeProtocol.Int8TernaryExact"/>).</summary>
    public string NumericMode { get; }

    public DeviceModel? Model => _model;

    public DeviceCapacity Capacity { get; }

    /// <summary>The node's health; a node that does not answer is <see cref="DeviceStatus.Faulted"/> with the reason, never an exception (a probe must not throw).</summary>
    public DeviceHealth Health
    {
        get
        {
            if (_disposed) return new(DeviceStatus.Disposed, "disposed");
            try
            {
                var reply = _client.Health(new HealthRequest(), Options(_options.Call));
                return new(reply.Status switch
                {
                    HealthReply.Types.Status.Ready => DeviceStatus.Ready,
                    HealthReply.Types.Status.Unloaded => DeviceStatus.Unloaded,
                    HealthReply.Types.Status.Disposed => DeviceStatus.Disposed,
                    _ => DeviceStatus.Faulted,
                }, reply.Detail);
            }
            catch (RpcException e)
            {
                return new(DeviceStatus.Faulted, $"node {Address}: {Describe(e)}");
            }
        }
    }

    public DeviceCounters Counters
    {
        get
        {
            var reply = Unary(() => _client.Health(new HealthRequest(), Options(_options.Call)));
            return new(reply.Tokens, reply.Steps, TimeSpan.FromMicroseconds(reply.BusyUs), reply.HasJoules ? reply.Joules : null);
        }
    }

    public async Task<DeviceModel> LoadAsync(ModelSource source, CancellationToken cancellationToken = default)
    {
        Live();
        try
        {
            var reply = await _client.LoadAsync(new LoadRequest { Location = source.Location, Version = source.Version ?? "", Checksum = source.Checksum ?? "" },
                Options(_options.Load, cancellationToken));
            return _model = ToModel(reply);
        }
        catch (RpcException e)
        {
            throw Translate(e);
        }
    }

    public DeviceSession CreateSession() =>
        new(Unary(() => _client.CreateSession(new CreateSessionRequest(), Options(_options.Call))).Session);

    public DeviceSession ImportSession(ReadOnlySpan<byte> state)
    {
        var request = new ImportSessionRequest { State = ByteString.CopyFrom(state) };
        return new(Unary(() => _client.ImportSession(request, Options(_options.Call))).Session);
    }

    public ExportedState ExportSession(DeviceSession session)
    {
        var reply = Unary(() => _client.ExportSession(new SessionRef { Session = session.Id }, Options(_options.Call)));
        return new ExportedState(reply.State.ToByteArray(), reply.Tokens);
    }

    public DeviceSession CopySession(DeviceSession session) =>
        new(Unary(() => _client.CopySession(new SessionRef { Session = session.Id }, Options(_options.Call))).Session);

    public void DropSession(DeviceSession session) =>
        Unary(() => _client.DropSession(new SessionRef { Session = session.Id }, Options(_options.Call)));

    public void Prefill(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int[]> prompts, Span<float> logits)
    {
        var batch = new PrefillBatch();
        foreach (var s in sessions)
            batch.Sessions.Add(s.Id);
        foreach (int[] prompt in prompts)
        {
            var p = new Prompt();
            p.Tokens.Add(prompt ?? []);
            batch.Prompts.Add(p);
        }
        Step(new StepRequest { Prefill = batch }, logits);
    }

    public void Decode(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        var batch = new DecodeBatch();
        foreach (var s in sessions)
            batch.Sessions.Add(s.Id);
        foreach (int t in tokens)
            batch.Tokens.Add(t);
        Step(new StepRequest { Decode = batch }, logits);
    }

    private void Step(StepRequest request, Span<float> logits)
    {
        Live();
        request.StepId = ++_nextStep;
        var reply = Exchange(request);
        if (reply.StepId != request.StepId)
            throw Broken($"answered step {reply.StepId} to step {request.StepId}");
        var floats = MemoryMarshal.Cast<byte, float>(reply.Logits.Span);
        if (reply.Logits.Length % sizeof(float) != 0 || floats.Length != logits.Length || (long)reply.Rows * reply.VocabSize != floats.Length)
            throw new DeviceRequestException(DeviceFault.BatchMismatch,
                $"node {Address}: step {request.StepId} returned {reply.Rows} x {reply.VocabSize} logits ({reply.Logits.Length} bytes), the caller's buffer holds {logits.Length} floats");
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("the node protocol's logits are little-endian float32");
        floats.CopyTo(logits);
    }

    /// <summary>One message out and its reply in on the Step stream, opened on first use and again after a refusal ended it.</summary>
    private StepReply Exchange(StepRequest request)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token);
        deadline.CancelAfter(_options.Call);
        try
        {
            _stream ??= _client.Step(Options(deadline: null, _disposing.Token));
            _stream.RequestStream.WriteAsync(request, deadline.Token).GetAwaiter().GetResult();
            if (!_stream.ResponseStream.MoveNext(deadline.Token).GetAwaiter().GetResult())
                throw Broken("ended the step stream without answering");
            return _stream.ResponseStream.Current;
        }
        catch (Exception e) when (e is RpcException { StatusCode: StatusCode.Cancelled } or OperationCanceledException
            && deadline.IsCancellationRequested && !_disposing.IsCancellationRequested)
        {
            CloseStream();
            throw new DeviceUnavailableException($"node {Address}: step {request.StepId} got no answer within {_options.Call.TotalSeconds:0.###} s");
        }
        catch (RpcException e)
        {
            CloseStream();
            throw Translate(e);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or InvalidOperationException)
        {
            // Writing to a call the node has ended, or a connection gone under the stream: a status, if the node sent one, is the reason.
            var status = FinalStatus();
            CloseStream();
            throw status is { StatusCode: not StatusCode.OK } s ? Translate(new RpcException(s)) : new DeviceUnavailableException($"node {Address}: {e.Message}");
        }
    }

    private Status? FinalStatus()
    {
        try
        {
            return _stream?.GetStatus();
        }
        catch (InvalidOperationException)
        {
            return null; // the call has not finished: no status to read
        }
    }

    private DeviceUnavailableException Broken(string what)
    {
        CloseStream();
        return new DeviceUnavailableException($"node {Address}: {what}");
    }

    private void CloseStream()
    {
        _stream?.Dispose();
        _stream = null;
    }

    private T Unary<T>(Func<T> call)
    {
        Live();
        try
        {
            return call();
        }
        catch (RpcException e)
        {
            throw Translate(e);
        }
    }

    private CallOptions Options(TimeSpan? deadline, CancellationToken cancellationToken = default) =>
        new(_headers, deadline is { } d ? DateTime.UtcNow + d : null, cancellationToken == default ? _disposing.Token : cancellationToken);

    private Exception Translate(RpcException e)
    {
        string? trailer = e.Trailers.GetValue(NodeProtocol.FaultTrailer);
        return FaultCodes.FromStatus(e.StatusCode, trailer) is { } fault
            ? new DeviceRequestException(fault, $"node {Address}: {e.Status.Detail}")
            : new DeviceUnavailableException($"node {Address}: {Describe(e)}");
    }

    private static string Describe(RpcException e) => e.StatusCode switch
    {
        StatusCode.Unauthenticated => $"the node refused the token ({e.Status.Detail})",
        StatusCode.DeadlineExceeded => "no answer before the deadline",
        _ => $"{e.StatusCode}: {e.Status.Detail}",
    };

    private static DeviceModel ToModel(ModelInfo m) => new(m.Identity, (int)m.VocabSize, m.EosTokenId, (int)m.StateBytes);

    private void Live()
    {
        if (_disposed) throw new DeviceUnavailableException($"remote device {Address} is disposed");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Cancelling ends the step stream at the node as well: its handler sees the call cancelled.
        _disposing.Cancel();
        CloseStream();
        _channel.Dispose();
        _disposing.Dispose();
    }
}
