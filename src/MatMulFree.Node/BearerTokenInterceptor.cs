using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using MatMulFree.Node.Protocol;

namespace MatMulFree.Node;

/// <summary>Refuses every call that does not carry the node's bearer token, before it reaches the device.</summary>
internal sealed class BearerTokenInterceptor(NodeOptions options) : Interceptor
{
    private readonly byte[]? _expected = options.Token is { } t ? Encoding.UTF8.GetBytes("Bearer " + t) : null;

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        if (_expected is null) return;
        string? given = context.RequestHeaders.GetValue(NodeProtocol.AuthorizationHeader);
        if (given is null)
            throw new RpcException(new Status(StatusCode.Unauthenticated, "no 'authorization: Bearer TOKEN' metadata; this node requires a token"));
        // Constant time: the comparison must not tell a caller how much of a guess was right.
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), _expected))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the bearer token is not this node's"));
    }
}
