using MatMulFree.Grains;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using MatMulFree.Grains.Serving;
using MatMulFree.Grains.Training;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Silo.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace MatMulFree.Silo;

/// <summary>
/// The one place a MatMulFree silo is configured, whoever hosts it (the standalone silo, `mmf
/// serve`, tests): clustering, grain storage, the serving grains and their backends, metrics and
/// the HTTP API. Other areas plug in through <see cref="SiloSettings.ConfigureSilo"/>.
/// </summary>
public static class SiloHosting
{
    /// <summary>Grain storage for training runs (issue 5); configured like the sessions' store.</summary>
    public const string TrainingStorage = "training";

    /// <summary>Orleans silo, OpenTelemetry metrics and, when <see cref="SiloSettings.HttpUrl"/> is set, the HTTP server's URL.</summary>
    public static IHostApplicationBuilder AddMatMulFreeSilo(this IHostApplicationBuilder builder, SiloSettings settings)
    {
        builder.UseOrleans(silo =>
        {
            if (settings.ClusteringConnectionString is { Length: > 0 } clustering)
            {
                silo.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(clustering));
                silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (settings.ClusterId, settings.ServiceId));
                silo.ConfigureEndpoints(settings.AdvertisedAddress, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: false);
            }
            else
            {
                silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
            }
            // Failure detection is tunable from configuration ("Membership:ProbeTimeout", …): tests shorten it.
            silo.Services.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection("Membership"));
            silo.AddActivityPropagation();
            silo.AddMatMulFreeServing(settings);
        });
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(ServingMetrics.MeterName, "Microsoft.Orleans")
            .AddPrometheusExporter());
        if (builder is WebApplicationBuilder web && settings.HttpUrl is { Length: > 0 } url)
        {
            web.WebHost.UseUrls(url);
            // Configuration's own AllowedHosts, when given, decides instead.
            if (LoopbackHosts.OnlyLoopback(url) && builder.Configuration["AllowedHosts"] is not { Length: > 0 })
                builder.Services.Configure<HostFilteringOptions>(o => o.AllowedHosts = [.. LoopbackHosts.Names]);
        }
        return builder;
    }

    /// <summary>Grain storage, the serving grains' services and the local backends: everything but clustering (tests bring their own).</summary>
    public static ISiloBuilder AddMatMulFreeServing(this ISiloBuilder silo, SiloSettings settings)
    {
        AddStorage(silo, ServingStorage.Sessions, "mmf-sessions", settings.StorageConnectionString);
        AddStorage(silo, TrainingStorage, "mmf-training", settings.StorageConnectionString);
        silo.Services.AllowProjectExceptions();
        silo.AddMatMulFreeTraining();
        silo.AddPlacementDirector<BackendPlacementStrategy, BackendPlacementDirector>();
        silo.Services.AddSingleton(settings);
        silo.Services.AddSingleton<ServingMetrics>();
        silo.Services.AddSingleton<ModelCatalog>();
        silo.Services.TryAddSingleton<IBackendPolicy, LeastLoadedPolicy>();
        // Built while the host is set up, before any grain runs: blocking on the node handshakes here blocks no scheduler.
        silo.Services.AddSingleton(sp => sp.GetRequiredService<ModelCatalog>().CreateBackendsAsync(settings, sp.GetRequiredService<ServingMetrics>()).GetAwaiter().GetResult());
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, BackendStartup>();
        silo.Services.AddSingleton<SessionOwners>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SessionOwners>());
        foreach (var configure in settings.ConfigureSilo)
            configure(silo);
        return silo;
    }

    /// <summary>A silo with the HTTP API inside the calling process (<c>mmf serve</c>, <c>mmf bench serve</c>), started.</summary>
    /// <param name="configure">Applied last before the build: tests add a log provider there.</param>
    public static async Task<WebApplication> StartEmbeddedAsync(SiloSettings settings, CancellationToken cancellationToken, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder();
        // Inside a command, stdout belongs to the command (`--json` prints one object there).
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = Microsoft.Extensions.Logging.LogLevel.Trace);
        builder.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Warning);
        // Two of Orleans' start-up warnings say nothing about this process. The silo's notes that
        // ServerGC is off: it is off on purpose (the silo's project file). And the watchdog's
        // "participant check thread has not completed … deadlock": its platform thread makes a first
        // check before the component check's timestamp is set, so on a busy machine it reports the
        // time since boot (00:14:24 in a process 4 s old) as a stall; nothing is blocked.
        builder.Logging.AddFilter("Orleans.Runtime.Silo", Microsoft.Extensions.Logging.LogLevel.Error);
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", Microsoft.Extensions.Logging.LogLevel.Error);
        // A failed start is thrown to the caller, who reports it once; the host would also log it, stack trace and all.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", Microsoft.Extensions.Logging.LogLevel.None);
        builder.AddMatMulFreeSilo(settings);
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapMatMulFreeApi();
        try
        {
            // Models load (and pull, and fail on a bad store) before the host starts: inside its
            // start a failure is logged as a page of "Hosting failed to start" before it surfaces.
            app.Services.GetRequiredService<ModelCatalog>();
            app.Services.GetRequiredService<LocalBackends>();
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e)
        {
            // Stopped before it is disposed: the silo may have started before the HTTP server failed, and
            // disposing it running made its shutdown log an ObjectDisposedException over the real error.
            // A silo that never started refuses to stop; that must not hide why the start failed either.
            try { await app.StopAsync(CancellationToken.None); }
            catch (Exception) { }
            await app.DisposeAsync();
            if (e is IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException } && Uri.TryCreate(settings.HttpUrl, UriKind.Absolute, out var url))
                throw new Core.MatMulFreeException($"port {url.Port} on {url.Host} is already in use (by another `mmf serve` or server; choose another port)", e);
            throw;
        }
        return app;
    }

    /// <summary>The HTTP API (OpenAI-compatible and sessions) and Prometheus /metrics.</summary>
    public static WebApplication MapMatMulFreeApi(this WebApplication app)
    {
        app.UseMiddleware<ApiErrorMiddleware>();
        var settings = app.Services.GetRequiredService<SiloSettings>();
        // Behind the API keys like the rest (a Prometheus scrape job sends one as its bearer token):
        // the series name the models and show the load.
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, optionsName: null, configureBranchedPipeline: metrics => metrics.Use((context, next) =>
        {
            ApiCaller.Owner(context, settings);
            return next(context);
        }));
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapOpenAiEndpoints();
        app.MapSessionEndpoints();
        return app;
    }

    // Binary (Orleans) serialization, not the default JSON: a session's state is a byte array of up to MBs.
    private static void AddStorage(ISiloBuilder silo, string name, string container, string? connectionString)
    {
        if (connectionString is not { Length: > 0 })
        {
            silo.AddMemoryGrainStorage(name);
            return;
        }
        silo.AddAzureBlobGrainStorage(name, (OptionsBuilder<AzureBlobStorageOptions> options) => options.Configure<Serializer>((o, serializer) =>
        {
            o.BlobServiceClient = new BlobServiceClient(connectionString);
            o.ContainerName = container;
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
        }));
    }
}
