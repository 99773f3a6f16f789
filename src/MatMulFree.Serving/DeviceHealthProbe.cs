namespace MatMulFree.Serving;

/// <summary>
/// Asks a device for its health on a fixed period, on a thread of its own (a remote device's probe
/// is a blocking call), and keeps the latest answer: what decides whether a router may give the
/// device turns. A device whose probe throws counts as faulted, with the reason.
/// </summary>
public sealed class DeviceHealthProbe : IDisposable
{
    private readonly IDecodeDevice _device;
    private readonly Timer _timer;
    private readonly object _probing = new();
    private volatile DeviceHealth _latest;
    private bool _disposed;

    public DeviceHealthProbe(IDecodeDevice device, TimeSpan period)
    {
        if (period <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(period), period, "the health probe period must be positive");
        _device = device;
        _latest = Ask();
        _timer = new Timer(_ => Probe(), null, period, period);
    }

    /// <summary>The device's answer to the latest probe.</summary>
    public DeviceHealth Latest => _latest;

    private void Probe()
    {
        // A probe slower than the period must not pile up behind itself: skip the tick instead.
        if (!Monitor.TryEnter(_probing))
            return;
        try
        {
            if (!_disposed)
                _latest = Ask();
        }
        finally
        {
            Monitor.Exit(_probing);
        }
    }

    private DeviceHealth Ask()
    {
        try
        {
            return _device.Health;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new DeviceHealth(DeviceStatus.Faulted, $"the {_device.Kind} device's health check failed: {e.Message}");
        }
    }

    public void Dispose()
    {
        lock (_probing)
        {
            _disposed = true;
            _timer.Dispose();
        }
    }
}
