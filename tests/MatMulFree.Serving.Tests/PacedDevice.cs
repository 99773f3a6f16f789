namespace MatMulFree.Serving.Tests;

/// <summary>
/// A device that waits before each decode step, so that a turn on the tiny model lasts long enough
/// for a test to stop its node in the middle of it; everything else is the wrapped device's.
/// </summary>
internal sealed class PacedDevice(IDecodeDevice inner, TimeSpan pause) : IDecodeDevice
{
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
        Thread.Sleep(pause);
        inner.Decode(sessions, tokens, logits);
    }

    public void Dispose() => inner.Dispose();
}
