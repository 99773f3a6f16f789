using MatMulFree.Core;


namespace MatMulFree.Grains.Serving;

/// <summary>The backend's queue is full: retry after <see cref="RetryAfterSeconds"/> (HTTP 429).</summary>
[GenerateSerializer]
public sealed class BackendBusyException : MatMulFreeException
{
    private const string RetryAfterKey = "RetryAfterSeconds";

    public BackendBusyException(string message, int retryAfterSeconds) : base(message) => Data[RetryAfterKey] = retryAfterSeconds;

    // Kept in Data, which the base exception codec carries, so the class needs no fields of its own.
    public int RetryAfterSeconds => Data[RetryAfterKey] is int seconds ? seconds : 1;
}

/// <summary>No session of that id (HTTP 404).</summary>
[GenerateSerializer]
public sealed class SessionNotFoundException(string message) : MatMulFreeException(message);

/// <summary>The request conflicts with the session's current state: it exists already, or a turn is running (HTTP 409).</summary>
[GenerateSerializer]
public sealed class SessionConflictException(string message) : MatMulFreeException(message);

/// <summary>A request field is invalid: unknown model, token id out of range, prompt too long (HTTP 400).</summary>
[GenerateSerializer]
public sealed class ServingRequestException(string message) : MatMulFreeException(message);

/// <summary>No backend serves the model, or the chosen one is gone (HTTP 503; retryable).</summary>
[GenerateSerializer]
public sealed class BackendUnavailableException(string message) : MatMulFreeException(message);
