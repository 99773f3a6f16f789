namespace MatMulFree.Serving.Library.Tests;

/// <summary>
/// A device that passes every call to another: the base of the test devices that change one
/// behaviour (a decode step that fails, waits for a gate or is paced) and keep the rest real.
/// Compiled into the node and serving tests too, beside the device contract.
/// </summary>
internal abstract class DeviceDecorator(IDecodeDevice inner) : IDecodeDevice
{
    protected IDecodeDevice Inner { get; } = inner;

    public string Kind => Inner.Kind;
    public DeviceModel? Model => Inner.Model;
    public DeviceCapacity Capacity => Inner.Capacity;
    public DeviceHealth Health => Inner.Health;
    public DeviceCounters Counters => Inner.Counters;
    public Task<DeviceModel> LoadAsync(ModelSource source, CancellationToken cancellationToken = default) => Inner.LoadAsync(source, cancellationToken);
    public DeviceSession CreateSession() => Inner.CreateSession();
    public DeviceSession ImportSession(ReadOnlySpan<byte> state) => Inner.ImportSession(state);
    public ExportedState ExportSession(DeviceSession session) => Inner.ExportSession(session);
    public DeviceSession CopySession(DeviceSession session) => Inner.CopySession(session);
    public void DropSession(DeviceSession session) => Inner.DropSession(session);
    public void Prefill(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int[]> prompts, Span<float> logits) => Inner.Prefill(sessions, prompts, logits);
    public virtual void Decode(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits) => Inner.Decode(sessions, tokens, logits);
    public virtual void Dispose() => Inner.Dispose();
}
