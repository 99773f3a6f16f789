using MatMulFree.Serving;

namespace MatMulFree.Node.Tests;

/// <summary>A CPU device whose decode waits until the test opens the gate: a node that stops answering mid-step, without any sleep.</summary>
internal sealed class GatedDevice(CpuDevice inner) : IDecodeDevice
{
    public ManualResetEventSlim Gate { get; } = new(initialState: true);

    public string Kind => inner.Kind;
    public DeviceModel? Model => inner.Model;
    public DeviceCapacity Capacity => inner.Capacity;
    public DeviceHealth Health => inner.Health;
    public DeviceCounters Counters => inner.Counters;
    public Task<DeviceModel> LoadAsync(ModelSource source, CancellationToken cancellationToken = default) => inner.LoadAsync(source, cancellationToken);
    public DeviceSession CreateSession() => inner.CreateSession();
    public DeviceSession ImportSession(ReadOnlySpan<byte> state) => inner.ImportSession(state);
    public ExportedState ExportSession(DeviceSession session) => inner.ExportSession(session);
    public DeviceSession CopySession(DeviceSession session) => inner.CopySession(session);
    public void DropSession(DeviceSession session) => inner.DropSession(session);
    public void Prefill(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int[]> prompts, Span<float> logits) => inner.Prefill(sessions, prompts, logits);

    public void Decode(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Gate.Wait();
        inner.Decode(sessions, tokens, logits);
    }

    public void Dispose()
    {
        Gate.Set();
        Gate.Dispose();
        inner.Dispose();
    }
}
