using MatMulFree.Serving;
using MatMulFree.Serving.Library.Tests;

namespace MatMulFree.Node.Tests;

/// <summary>A CPU device whose decode waits until the test opens the gate: a node that stops answering mid-step, without any sleep.</summary>
internal sealed class GatedDevice(CpuDevice inner) : DeviceDecorator(inner)
{
    public ManualResetEventSlim Gate { get; } = new(initialState: true);

    public override void Decode(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Gate.Wait();
        Inner.Decode(sessions, tokens, logits);
    }

    public override void Dispose()
    {
        Gate.Set();
        Gate.Dispose();
        Inner.Dispose();
    }
}
