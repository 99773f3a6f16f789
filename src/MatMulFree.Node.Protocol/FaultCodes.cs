using Grpc.Core;
using MatMulFree.Serving;

namespace MatMulFree.Node.Protocol;

/// <summary>
/// Which gRPC status a <see cref="DeviceFault"/> travels as, and back. The fault itself rides in the
/// <see cref="NodeProtocol.FaultTrailer"/> trailer; a status without it (gRPC's own refusals, or a
/// node in another language that sends none) is read by its code alone.
/// </summary>
public static class FaultCodes
{
    public static StatusCode ToStatus(DeviceFault fault) => fault switch
    {
        DeviceFault.UnknownSession => StatusCode.NotFound,
        DeviceFault.BatchTooLarge or DeviceFault.TooManySessions => StatusCode.ResourceExhausted,
        DeviceFault.NotLoaded => StatusCode.FailedPrecondition,
        _ => StatusCode.InvalidArgument,
    };

    /// <summary>The fault a refused request carries, or null when the status says the node cannot serve (unavailable, timed out, failed inside).</summary>
    public static DeviceFault? FromStatus(StatusCode code, string? trailer)
    {
        if (trailer is not null && Enum.TryParse<DeviceFault>(trailer, ignoreCase: false, out var fault) && Enum.IsDefined(fault))
            return fault;
        return code switch
        {
            StatusCode.NotFound => DeviceFault.UnknownSession,
            StatusCode.FailedPrecondition => DeviceFault.NotLoaded,
            // Without a fault trailer these are gRPC's own: a message it could not parse, or one above the receive limit.
            StatusCode.InvalidArgument or StatusCode.ResourceExhausted => DeviceFault.BadMessage,
            _ => null,
        };
    }
}
