using MatMulFree.Core;

namespace MatMulFree.Serving;

/// <summary>What was wrong with a request to a device: each maps to one error code of a node protocol.</summary>
public enum DeviceFault
{
    NotLoaded,
    BadModel,
    UnknownSession,
    BadState,
    TokenOutOfVocabulary,
    EmptyPrompt,
    BatchTooLarge,
    BatchMismatch,
    DuplicateSession,
    TooManySessions,
    /// <summary>A request a remote device could not read: malformed, or above the node's message size.</summary>
    BadMessage,
}

/// <summary>A request the device refuses because of the request itself; the device and its other sessions are unaffected.</summary>
public sealed class DeviceRequestException(DeviceFault fault, string message) : MatMulFreeException(message)
{
    public DeviceFault Fault { get; } = fault;
}

/// <summary>The device cannot serve now (disposed, shutting down, faulted); another device may.</summary>
public sealed class DeviceUnavailableException(string message) : MatMulFreeException(message);

/// <summary>The batcher's wait queue is full: retry after <see cref="RetryAfterSeconds"/>.</summary>
public sealed class BatcherBusyException(string message, int retryAfterSeconds) : MatMulFreeException(message)
{
    public int RetryAfterSeconds { get; } = retryAfterSeconds;
}
