using MatMulFree.Grains;
using MatMulFree.Core.Tokenization;
using MatMulFree.Grains.Training;
using MatMulFree.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace MatMulFree.Training.Tests;

/// <summary>
/// An in-process Orleans cluster of <paramref name="silos"/> silos with the training grains, memory
/// grain storage, a local folder store and a small prepared data set in it. Membership is tuned so a
/// killed silo is declared dead within seconds.
/// </summary>
internal sealed class TrainingCluster : IAsyncDisposable
{
    private TrainingCluster(InProcessTestCluster cluster, string root)
    {
        Cluster = cluster;
        Root = root;
    }

    public InProcessTestCluster Cluster { get; }
    public string Root { get; }
    public string StoreUri => Path.Combine(Root, "store");
    public string DataUri => Path.Combine(Root, "store", "data", "test");
    public IGrainFactory Grains => Cluster.Client;

    public static async Task<TrainingCluster> StartAsync(short silos)
    {
        string root = TestRuns.TempFolder();
        var store = new LocalFolderBlobStore(Path.Combine(root, "store"));
        await new DatasetWriter(store, "data/test", new ByteTokenizer(260, 256, 257))
            .WriteAsync(Enumerable.Range(0, 40).Select(i => $"document {i}: the quick brown fox jumps over the lazy dog, again and again."));

        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddMemoryGrainStorage(TrainingSiloBuilderExtensions.StorageName);
            silo.AddMatMulFreeTraining();
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                // Seconds, not the production minute; two missed probes so a busy CI machine does not
                // declare a live silo dead.
                o.ProbeTimeout = TimeSpan.FromSeconds(2);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
            });
        });
        builder.ConfigureClient(client => client.Services.AllowProjectExceptions());
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new TrainingCluster(cluster, root);
    }

    public TrainingJobSpec Spec(string run, TrainingOptions options, int workers, int checkpointEvery = 100, bool resume = false) =>
        new(run, options.ToJson(), DataUri, StoreUri, workers, checkpointEvery, TimeSpan.FromSeconds(60), KeepCheckpoints: 5, Resume: resume);

    /// <summary>Starts the run and polls it until it stops; fails the test if it takes over <paramref name="limit"/>.</summary>
    public async Task<TrainingJobSnapshot> RunAsync(TrainingJobSpec spec, TimeSpan? limit = null, Func<TrainingJobSnapshot, Task>? onProgress = null)
    {
        var job = Grains.GetGrain<ITrainingJobGrain>(spec.Run);
        await job.StartAsync(spec);
        return await WaitAsync(spec.Run, limit, onProgress);
    }

    public async Task<TrainingJobSnapshot> WaitAsync(string run, TimeSpan? limit = null, Func<TrainingJobSnapshot, Task>? onProgress = null)
    {
        var job = Grains.GetGrain<ITrainingJobGrain>(run);
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromMinutes(2));
        while (true)
        {
            var snapshot = await job.GetSnapshotAsync(0);
            if (snapshot.Status is TrainingJobStatus.Completed or TrainingJobStatus.Failed or TrainingJobStatus.Cancelled) return snapshot;
            if (onProgress is not null) await onProgress(snapshot);
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"run {run} still {snapshot.Status} at step {snapshot.Step}; events: {string.Join(" | ", snapshot.Events)}");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
