using MatMulFree.Grains;
using Azure.Data.Tables;
using MatMulFree.Core.Tokenization;
using MatMulFree.Grains.Training;
using MatMulFree.Storage;
using MatMulFree.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace MatMulFree.Training.Tests;

/// <summary>
/// Azurite plus three silo processes on loopback (real TCP, Azure Table membership); a two-worker
/// run; one worker's process killed with SIGKILL mid-run. The run must finish on the silos that are
/// left, each step applied once, its final loss close to an undisturbed run of the same seed.
/// </summary>
[Collection(AzuriteFixture.ExclusiveCollection)]
public sealed class MultiProcessTrainingTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task TrainingJobGrain_Run_SurvivesSigkillOfAWorkerProcess()
    {
        string clusterId = $"mp{Guid.NewGuid():N}"[..12];
        string store = $"{azurite.ConnectionString};Container={AzuriteFixture.UniqueContainer("train")}";
        var data = StoreLocation.Resolve("data/test", store);
        await new DatasetWriter(data.Open(), data.Path, new ByteTokenizer(260, 256, 257))
            .WriteAsync(Enumerable.Range(0, 40).Select(i => $"document {i}: the quick brown fox jumps over the lazy dog, again and again."));

        var silos = new List<SiloProcess>();
        for (int i = 0; i < 3; i++) silos.Add(await SiloProcess.StartAsync(azurite.ConnectionString, clusterId));
        try
        {
            using var client = await ConnectAsync(azurite.ConnectionString, clusterId, expectedSilos: 3, silos);
            var grains = client.Services.GetRequiredService<IClusterClient>();
            var options = TestRuns.Options(microBatch: 2, microBatchesPerStep: 2, steps: 40);
            TrainingJobSpec Spec(string run) => new(run, options.ToJson(), "data/test", store, Workers: 2, CheckpointEvery: 4,
                StepTimeout: TimeSpan.FromSeconds(30), KeepCheckpoints: 3);

            var calm = await RunAsync(grains, Spec("calm"), null);
            Assert.Equal(TrainingJobStatus.Completed, calm.Status);

            bool killed = false;
            var storm = await RunAsync(grains, Spec("storm"), snapshot =>
            {
                if (killed || snapshot.Step < 5 || snapshot.WorkerSilos.Length < 2) return Task.CompletedTask;
                // A worker's silo, not the job's own (that case is the job's reactivation, not this test's).
                var victim = silos.First(s => !snapshot.JobSilo.Contains($":{s.SiloPort}@") && snapshot.WorkerSilos.Any(w => w.Contains($":{s.SiloPort}@")));
                victim.Kill();
                killed = snapshot.Status == TrainingJobStatus.Running && snapshot.Step < 40;
                return Task.CompletedTask;
            });

            Assert.True(killed, $"the run finished before a worker could be killed (calm run: {calm.Steps.Sum(s => s.StepSeconds):F1} s of steps)");
            Assert.True(storm.Status == TrainingJobStatus.Completed, $"{storm.Status}: {storm.Error} | {string.Join(" | ", storm.Events)}");
            Assert.True(storm.Rollbacks >= 1 && storm.Generation >= 2, string.Join(" | ", storm.Events));
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), storm.Steps.Select(s => s.Step));
            Assert.Equal(calm.Steps[^1].Loss, storm.Steps[^1].Loss, 3);
        }
        finally
        {
            foreach (var silo in silos) await silo.DisposeAsync();
        }
    }

    private static async Task<TrainingJobSnapshot> RunAsync(IGrainFactory grains, TrainingJobSpec spec, Func<TrainingJobSnapshot, Task>? onProgress)
    {
        var job = grains.GetGrain<ITrainingJobGrain>(spec.Run);
        await job.StartAsync(spec);
        var deadline = DateTime.UtcNow.AddMinutes(4);
        while (true)
        {
            TrainingJobSnapshot snapshot;
            try
            {
                snapshot = await job.GetSnapshotAsync(0);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException && DateTime.UtcNow < deadline)
            {
                // The poll went through the gateway that was just killed: ask again through another.
                await Task.Delay(200);
                continue;
            }
            if (snapshot.Status is not (TrainingJobStatus.Running or TrainingJobStatus.Created)) return snapshot;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{spec.Run} at step {snapshot.Step}: {string.Join(" | ", snapshot.Events)}");
            if (onProgress is not null) await onProgress(snapshot);
            await Task.Delay(200);
        }
    }

    private static async Task<IHost> ConnectAsync(string connectionString, string clusterId, int expectedSilos, List<SiloProcess> silos)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            // A client that failed to start cannot be started again: build a fresh one per attempt.
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.UseOrleansClient(client =>
            {
                client.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(connectionString));
                client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, clusterId));
                client.Services.AllowProjectExceptions();
            });
            var host = builder.Build();
            try
            {
                await host.StartAsync();
                var hosts = await host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
                if (hosts.Count >= expectedSilos) return host;
            }
            catch (Exception) when (DateTime.UtcNow < deadline) { }
            host.Dispose();
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("silos did not form a cluster: " + string.Join("\n---\n", silos.Select(s => s.Log)));
            await Task.Delay(1000);
        }
    }
}
