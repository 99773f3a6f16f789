using MatMulFree.Core;
using System.Net;
using System.Net.Sockets;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Silo;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MatMulFree.Serving.Tests;

/// <summary>A whole silo host as `mmf serve` runs it (localhost clustering, HTTP API on a free loopback port), inside the test process.</summary>
public sealed class HttpSilo : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpSilo(WebApplication app, Uri address)
    {
        _app = app;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public HttpClient Client { get; }

    public IGrainFactory Grains => _app.Services.GetRequiredService<IGrainFactory>();

    public IServiceProvider Services => _app.Services;

    public IEnumerable<DeviceBackend> Backends => _app.Services.GetRequiredService<LocalBackends>().All.OfType<DeviceBackend>();

    public static async Task<HttpSilo> StartAsync(SiloSettings settings, ILoggerProvider? log = null)
    {
        int[] ports = LoopbackPorts.Free(2);
        settings = new SiloSettings
        {
            Models = settings.Models, Limits = settings.Limits, ApiKeys = settings.ApiKeys, EngineThreads = settings.EngineThreads,
            MaxPromptTokens = settings.MaxPromptTokens, MaxNewTokens = settings.MaxNewTokens, StorageConnectionString = settings.StorageConnectionString,
            ConfigureSilo = settings.ConfigureSilo,
            SiloPort = ports[0], GatewayPort = ports[1], HttpUrl = "http://127.0.0.1:0", ClusterId = $"test-{Guid.NewGuid():N}",
        };
        var app = await SiloHosting.StartEmbeddedAsync(settings, CancellationToken.None, log is null ? null : b => b.Logging.AddProvider(log));
        string url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var silo = new HttpSilo(app, new Uri(url));
        // The backend registers on activation, right after the silo becomes active; wait for /v1 to be usable.
        for (int i = 0; i < 100 && !(await silo.Client.GetAsync("/healthz")).IsSuccessStatusCode; i++)
            await Task.Delay(50);
        return silo;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
