using MatMulFree.Grains.Serving;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Silo;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MatMulFree.Serving.Tests;

/// <summary>An in-process cluster of silos configured by <see cref="SiloHosting.AddMatMulFreeServing"/>, each serving the tiny model.</summary>
public sealed class ServingCluster : IAsyncDisposable
{
    private ServingCluster(InProcessTestCluster cluster) => Cluster = cluster;

    public InProcessTestCluster Cluster { get; }
    public IGrainFactory Grains => Cluster.Client;

    public static async Task<ServingCluster> StartAsync(SiloSettings settings, short silos = 1)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) => silo.AddMatMulFreeServing(settings));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var serving = new ServingCluster(cluster);
        // Backends register on their first heartbeat; wait until every silo's is listed.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((await serving.Grains.GetGrain<IBackendRegistryGrain>(IBackendRegistryGrain.Key).ListAsync()).Length < silos)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20))
                throw new TimeoutException("backends did not register within 20 s");
            await Task.Delay(100);
        }
        return serving;
    }

    public IEnumerable<DeviceBackend> Backends => Cluster.Silos
        .Select(s => Cluster.GetSiloServiceProvider(s.SiloAddress).GetRequiredService<LocalBackends>())
        .SelectMany(l => l.All).Cast<DeviceBackend>();

    public async Task<ISessionGrain> CreateSessionAsync(string id, SamplingSettings sampling)
    {
        var session = Grains.GetGrain<ISessionGrain>(id);
        await session.CreateAsync(new SessionSpec("tiny", "test", sampling));
        return session;
    }

    public static async Task<int[]> TurnAsync(ISessionGrain session, int[] message, int maxTokens, CancellationToken cancellationToken = default)
    {
        var tokens = new List<int>();
        await foreach (var e in session.TurnAsync(new TurnInput(message, maxTokens), cancellationToken))
            tokens.Add(e.Token);
        return [.. tokens];
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}
