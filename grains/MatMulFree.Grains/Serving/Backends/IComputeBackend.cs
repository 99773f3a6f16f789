using System.Threading.Channels;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// Turns of many sessions at once, as a <see cref="BackendGrain"/> streams them: the grain-facing
/// side of a <see cref="DeviceBackend"/> (devices themselves, CPU, GPU or FPGA, implement the
/// step-level <c>MatMulFree.Serving.IDecodeDevice</c> instead). It lives in one silo's process;
/// sessions never see it directly.
/// </summary>
public interface IComputeBackend : IDisposable
{
    BackendCapabilities Capabilities { get; }

    /// <summary>Turns being generated now.</summary>
    int Active { get; }

    /// <summary>Turns accepted but waiting for a batch slot.</summary>
    int Queued { get; }

    /// <summary>Why the device should not be given turns now (it stopped answering its health checks); null while it is healthy.</summary>
    string? Fault => null;

    /// <summary>
    /// Queues a turn; its events arrive on the returned reader, which completes after the final
    /// event (or with the turn's error). Cancelling drops the turn and leaves the cached state as
    /// it was before it.
    /// </summary>
    /// <exception cref="BackendBusyException">The queue is full.</exception>
    ChannelReader<BackendEvent> Submit(BackendTurn turn, CancellationToken cancellationToken);
}
