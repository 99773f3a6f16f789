using MatMulFree.Core;
using MatMulFree.Serving;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MatMulFree.Node;

/// <summary>
/// A node: one device served over the node protocol by Kestrel (HTTP/2 without TLS). The device
/// stays the caller's: stopping the node does not dispose it.
/// </summary>
public sealed class NodeServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private NodeServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where clients connect, e.g. <c>http://127.0.0.1:5701</c>.</summary>
    public Uri Address { get; }

    /// <exception cref="IOException">The port is taken (Kestrel's message names it).</exception>
    public static async Task<NodeServer> StartAsync(IDecodeDevice device, NodeOptions options, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // A node prints its own one line; ASP.NET's start-up chatter would bury it.
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(k => k.Listen(options.Bind, options.Port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton(device);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<BearerTokenInterceptor>();
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = options.MaxReceiveBytes;
            o.MaxSendMessageSize = null;
            // A message that does not parse ends as UNKNOWN; without details its status would not say why.
            o.EnableDetailedErrors = true;
            o.Interceptors.Add<BearerTokenInterceptor>();
        });
        var app = builder.Build();
        app.MapGrpcService<NodeService>();
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e) when (e.InnerException is AddressInUseException)
        {
            await app.DisposeAsync();
            throw new MatMulFreeException($"port {options.Port} on {options.Bind} is already in use (by another node or server; choose another port)", e);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new NodeServer(app, new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    /// <summary>Completes when the node stops: SIGINT or SIGTERM (the host's console lifetime), <see cref="StopAsync"/>, or <paramref name="cancellationToken"/>.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops listening; open step streams end with UNAVAILABLE ("the node is stopping").</summary>
    public async Task StopAsync() => await _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
