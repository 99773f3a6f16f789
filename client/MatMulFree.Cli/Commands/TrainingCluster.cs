using MatMulFree.Core;
using MatMulFree.Grains;
using System.Net;
using System.Net.Sockets;
using Azure.Data.Tables;
using MatMulFree.Grains.Training;
using MatMulFree.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// The Orleans cluster `mmf train` and `mmf runs` talk to: either silos started inside this process
/// (one per worker, each a real silo on its own loopback ports, the first one the membership's
/// primary), or a client of a running cluster given by <c>--cluster</c>.
/// </summary>
internal sealed class TrainingCluster : IAsyncDisposable
{
    private readonly List<IHost> hosts;

    private TrainingCluster(List<IHost> hosts, IGrainFactory grains)
    {
        this.hosts = hosts;
        Grains = grains;
    }

    public IGrainFactory Grains { get; }

    /// <summary><c>--cluster</c>: an Azure Table connection string (the silos' membership) or HOST:PORT of a gateway; else embedded silos.</summary>
    public static Task<TrainingCluster> OpenAsync(string? cluster, int silos, CancellationToken cancellationToken) =>
        string.IsNullOrWhiteSpace(cluster) ? StartEmbeddedAsync(silos, cancellationToken) : ConnectAsync(cluster, cancellationToken);

    private static async Task<TrainingCluster> StartEmbeddedAsync(int count, CancellationToken cancellationToken)
    {
        int[] ports = LoopbackPorts.Free(2 * count);
        var primary = new IPEndPoint(IPAddress.Loopback, ports[0]);
        var hosts = new List<IHost>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var settings = new SiloSettings { SiloPort = ports[2 * i], GatewayPort = ports[2 * i + 1], ClusterId = "mmf-train", ServiceId = "mmf-train" };
                var builder = Host.CreateApplicationBuilder();
                builder.Logging.ClearProviders();
                builder.UseOrleans(silo =>
                {
                    silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, primary, settings.ServiceId, settings.ClusterId);
                    silo.AddMatMulFreeServing(settings);
                });
                var host = builder.Build();
                await host.StartAsync(cancellationToken);
                hosts.Add(host);
            }
        }
        catch
        {
            foreach (var host in hosts) host.Dispose();
            throw;
        }
        return new TrainingCluster(hosts, hosts[0].Services.GetRequiredService<IGrainFactory>());
    }

    private static async Task<TrainingCluster> ConnectAsync(string cluster, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            if (cluster.Contains('='))
            {
                client.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(cluster));
                client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("mmf", "mmf"));
            }
            else
            {
                client.UseStaticClustering(ParseEndpoint(cluster));
                client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("mmf", "mmf"));
            }
            client.Services.AllowProjectExceptions();
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            throw new Core.MatMulFreeException($"--cluster '{(cluster.Contains('=') ? "(connection string)" : cluster)}': cannot connect ({e.Message})", e);
        }
        return new TrainingCluster([host], host.Services.GetRequiredService<IClusterClient>());
    }

    private static IPEndPoint ParseEndpoint(string text)
    {
        string[] parts = text.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[1], out int port))
        {
            var address = parts[0] is "localhost" or "" ? IPAddress.Loopback : IPAddress.TryParse(parts[0], out var ip) ? ip
                : Dns.GetHostAddresses(parts[0]).FirstOrDefault() ?? throw new Core.MatMulFreeException($"--cluster: cannot resolve host '{parts[0]}'");
            return new IPEndPoint(address, port);
        }
        throw new Core.MatMulFreeException($"--cluster must be HOST:PORT of a silo gateway or an Azure Table connection string, got '{text}'");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(hosts))
        {
            try { await host.StopAsync(TimeSpan.FromSeconds(10)); }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException) { }
            host.Dispose();
        }
    }
}
