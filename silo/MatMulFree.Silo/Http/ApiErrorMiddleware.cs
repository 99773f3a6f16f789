using System.Text.Json;
using MatMulFree.Core;
using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace MatMulFree.Silo.Http;

/// <summary>
/// Gives every request an id (header <c>x-request-id</c>) and turns errors into OpenAI-style JSON
/// errors with a 4xx status when the request is at fault (never a 500 for bad input), 429 +
/// Retry-After for backpressure, 503 + Retry-After when no backend is left or a silo is
/// unreachable. A 5xx says only that it failed and the request id: its exception (silo addresses,
/// Orleans stack traces) goes to the server's log under that id, never to the client.
/// After a stream has started, the error goes out as a last SSE event instead.
/// </summary>
public sealed class ApiErrorMiddleware(RequestDelegate next, ILogger<ApiErrorMiddleware> log)
{
    public const string RequestIdHeader = "x-request-id";

    public async Task InvokeAsync(HttpContext context)
    {
        string requestId = "req_" + Guid.NewGuid().ToString("N");
        context.TraceIdentifier = requestId;
        context.Response.Headers[RequestIdHeader] = requestId;
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception error)
        {
            var (status, type, retryAfter) = Classify(error);
            string message = error.Message;
            if (status >= StatusCodes.Status500InternalServerError)
            {
                log.LogError(error, "request {RequestId} ({Method} {Path}) failed with {Status}", requestId, context.Request.Method, context.Request.Path.Value, status);
                message = status == StatusCodes.Status503ServiceUnavailable
                    ? $"no backend could serve the request now; retry (request id {requestId})"
                    : $"the server failed to complete the request (request id {requestId})";
            }
            var body = new { error = new { message, type, code = status, request_id = requestId } };
            if (context.Response.HasStarted)
            {
                await ServerSentEvents.WriteAsync(context.Response, body);
                return;
            }
            context.Response.Clear();
            context.Response.StatusCode = status;
            context.Response.Headers[RequestIdHeader] = requestId;
            if (retryAfter is { } seconds)
                context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await context.Response.WriteAsJsonAsync(body, ApiJson.Options);
        }
    }

    public static (int Status, string Type, int? RetryAfter) Classify(Exception error) => error switch
    {
        BackendBusyException busy => (StatusCodes.Status429TooManyRequests, "rate_limit_exceeded", busy.RetryAfterSeconds),
        // A silo died or is unreachable: the cluster routes around it within seconds, so the client should retry.
        BackendUnavailableException or SiloUnavailableException or OrleansMessageRejectionException or TimeoutException
            => (StatusCodes.Status503ServiceUnavailable, "backend_unavailable", 1),
        SessionNotFoundException or UnknownModelException => (StatusCodes.Status404NotFound, "not_found", null),
        SessionConflictException => (StatusCodes.Status409Conflict, "conflict", null),
        UnauthorizedException => (StatusCodes.Status401Unauthorized, "invalid_api_key", null),
        ForbiddenException => (StatusCodes.Status403Forbidden, "forbidden", null),
        UnsupportedMediaTypeException => (StatusCodes.Status415UnsupportedMediaType, "invalid_request_error", null),
        RequestTooLargeException => (StatusCodes.Status413PayloadTooLarge, "invalid_request_error", null),
        // Kestrel's own refusals (a malformed or oversized request) carry their status.
        BadHttpRequestException bad when bad.StatusCode is >= 400 and < 500 => (bad.StatusCode, "invalid_request_error", null),
        MatMulFreeException or JsonException or BadHttpRequestException => (StatusCodes.Status400BadRequest, "invalid_request_error", null),
        _ => (StatusCodes.Status500InternalServerError, "server_error", null),
    };
}

/// <summary>No or an unknown API key (HTTP 401).</summary>
public sealed class UnauthorizedException(string message) : MatMulFreeException(message);

/// <summary>The API key is valid but the session is someone else's (HTTP 403).</summary>
public sealed class ForbiddenException(string message) : MatMulFreeException(message);

/// <summary>The body is not declared as JSON (HTTP 415): a browser may send text/plain cross-site without asking first, application/json it may not.</summary>
public sealed class UnsupportedMediaTypeException(string message) : MatMulFreeException(message);

/// <summary>The body is larger than the server reads (HTTP 413).</summary>
public sealed class RequestTooLargeException(string message) : MatMulFreeException(message);
