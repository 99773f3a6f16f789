using MatMulFree.Serving.Library.Tests;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// A device that waits before each decode step, so that a turn on the tiny model lasts long enough
/// for a test to stop its node in the middle of it; everything else is the wrapped device's.
/// </summary>
internal sealed class PacedDevice(IDecodeDevice inner, TimeSpan pause) : DeviceDecorator(inner)
{
    public override void Decode(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Thread.Sleep(pause);
        Inner.Decode(sessions, tokens, logits);
    }
}
