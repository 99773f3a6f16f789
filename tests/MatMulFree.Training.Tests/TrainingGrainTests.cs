using MatMulFree.Grains.Training;

namespace MatMulFree.Training.Tests;

public sealed class TrainingGrainTests
{
    [Fact]
    public async Task TrainingJobGrain_Run_TwoWorkersOfBatchBMatchOneWorkerOfBatch2B()
    {
        await using var cluster = await TrainingCluster.StartAsync(silos: 2);
        var single = await cluster.RunAsync(cluster.Spec("single", TestRuns.Options(microBatch: 4, microBatchesPerStep: 1), workers: 1, checkpointEvery: 5));
        var pair = await cluster.RunAsync(cluster.Spec("pair", TestRuns.Options(microBatch: 2, microBatchesPerStep: 2), workers: 2, checkpointEvery: 5));

        Assert.Equal(TrainingJobStatus.Completed, single.Status);
        Assert.Equal(TrainingJobStatus.Completed, pair.Status);
        Assert.Equal(0, pair.Rollbacks);
        Assert.Equal(2, pair.WorkerSilos.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (long)i), pair.Steps.Select(s => s.Step));
        Assert.All(pair.Steps, s => Assert.Equal(2, s.Workers));
        foreach (var (a, b) in single.Steps.Zip(pair.Steps))
            Assert.Equal(a.Loss, b.Loss, 4);

        // Same parameters within fp32 tolerance: load both final checkpoints and compare every tensor.
        var store = MatMulFree.Storage.StoreLocation.Resolve(null, cluster.StoreUri).Open();
        string left = TestRuns.TempFolder(), right = TestRuns.TempFolder();
        await new RunCheckpoints(store, "single", new(5)).DownloadAsync(5, left);
        await new RunCheckpoints(store, "pair", new(5)).DownloadAsync(5, right);
        using var a1 = MatMulFree.Core.SafeTensors.SafeTensorsCheckpoint.Open(left);
        using var b1 = MatMulFree.Core.SafeTensors.SafeTensorsCheckpoint.Open(right);
        foreach (var (name, shape) in MatMulFree.Core.ParameterNames.All(TestRuns.TinyModel))
        {
            float[] x = a1.ReadFloat32(name, shape), y = b1.ReadFloat32(name, shape);
            for (int i = 0; i < x.Length; i++)
                Assert.True(Math.Abs(x[i] - y[i]) <= 1e-5 + 1e-4 * Math.Abs(x[i]), $"{name}[{i}]: {x[i]} vs {y[i]}");
        }
    }

    [Fact]
    public async Task TrainingJobGrain_Resume_ContinuesBitForBitFromACheckpoint()
    {
        await using var cluster = await TrainingCluster.StartAsync(silos: 2);
        var options = TestRuns.Options(microBatch: 2, microBatchesPerStep: 2, steps: 6);
        var straight = await cluster.RunAsync(cluster.Spec("straight", options, workers: 2, checkpointEvery: 3));
        Assert.Equal(TrainingJobStatus.Completed, straight.Status);

        // A second run whose only checkpoint is the straight run's step 3, as if it had stopped there.
        var store = MatMulFree.Storage.StoreLocation.Resolve(null, cluster.StoreUri).Open();
        string folder = TestRuns.TempFolder();
        await new RunCheckpoints(store, "straight", new(5)).DownloadAsync(3, folder);
        File.Delete(Path.Combine(folder, MatMulFree.Storage.StoreLayout.ManifestFile));
        await new RunCheckpoints(store, "resumed", new(5)).SaveAsync(folder, 3);

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => cluster.Grains.GetGrain<ITrainingJobGrain>("resumed").StartAsync(cluster.Spec("resumed", options, 2, 3)));
        Assert.True(refused.Message.Contains("--resume"), refused.ToString());
        var mismatch = await Assert.ThrowsAnyAsync<Exception>(() => cluster.Grains.GetGrain<ITrainingJobGrain>("resumed")
            .StartAsync(cluster.Spec("resumed", options with { SequenceLength = 8 }, 2, 3, resume: true)));
        Assert.True(mismatch.Message.Contains("--seq"), mismatch.ToString());
        var resumed = await cluster.RunAsync(cluster.Spec("resumed", options, workers: 2, checkpointEvery: 3, resume: true));

        Assert.Equal(TrainingJobStatus.Completed, resumed.Status);
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), resumed.Steps.Select(s => s.Step));
        for (int i = 3; i < 6; i++)
        {
            Assert.Equal(straight.Steps[i].Loss, resumed.Steps[i].Loss);
            Assert.Equal(straight.Steps[i].ParameterHash, resumed.Steps[i].ParameterHash);
        }
    }

    [Fact]
    public async Task TrainingJobGrain_Run_SurvivesAKilledWorkerSiloWithoutApplyingAStepTwice()
    {
        await using var cluster = await TrainingCluster.StartAsync(silos: 2);
        var options = TestRuns.Options(microBatch: 2, microBatchesPerStep: 2, steps: 40);
        var undisturbed = await cluster.RunAsync(cluster.Spec("calm", options, workers: 2, checkpointEvery: 4));
        Assert.Equal(TrainingJobStatus.Completed, undisturbed.Status);

        var job = cluster.Grains.GetGrain<ITrainingJobGrain>("storm");
        await job.StartAsync(cluster.Spec("storm", options, workers: 2, checkpointEvery: 4));
        Assert.True(cluster.Cluster.TryGetGrainContext(job.GetGrainId(), out var context));
        var jobSilo = context!.Address.SiloAddress;
        bool killed = false;
        var result = await cluster.WaitAsync("storm", TimeSpan.FromMinutes(3), async snapshot =>
        {
            if (killed || snapshot.Step < 4 || snapshot.WorkerSilos.Length < 2) return;
            var victim = cluster.Cluster.Silos.First(s => s.SiloAddress != jobSilo && snapshot.WorkerSilos.Contains(s.SiloAddress.ToParsableString()));
            await cluster.Cluster.KillSiloAsync(victim);
            killed = true;
        });

        Assert.True(killed, "the run finished before a silo could be killed");
        Assert.Equal(TrainingJobStatus.Completed, result.Status);
        Assert.True(result.Rollbacks >= 1, string.Join(" | ", result.Events));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), result.Steps.Select(s => s.Step));
        Assert.Equal(1, result.Steps[^1].Workers);
        Assert.Equal(undisturbed.Steps[^1].Loss, result.Steps[^1].Loss, 3);
    }

    [Fact]
    public async Task TrainingJobGrain_Run_FailsSayingSoWhenTheLossBecomesNaN()
    {
        await using var cluster = await TrainingCluster.StartAsync(silos: 1);
        // A rate no run survives: the weights overflow within a few steps.
        var options = TestRuns.Options(microBatch: 2, microBatchesPerStep: 1, steps: 30) with { PeakRate = 1e30 };
        var run = await cluster.RunAsync(cluster.Spec("diverged", options, workers: 1));

        Assert.True(run.Status == TrainingJobStatus.Failed, $"{run.Status}; losses {string.Join(", ", run.Steps.Select(s => s.Loss))}");
        // Here the gradient turns NaN a step before the loss would.
        Assert.Matches($"step {run.Step + 1}: the (loss|gradient norm) is (NaN|infinite); the run diverged", run.Error ?? "");
        Assert.Equal(0, run.Rollbacks); // a diverged run is not a lost worker: retrying would diverge again
        Assert.All(run.Steps, s => Assert.True(double.IsFinite(s.Loss), $"step {s.Step} was applied with loss {s.Loss}"));
    }

    [Fact]
    public async Task TrainingJobGrain_Run_AWorkerCallThatThrowsIsAWorkerFailureTheRunRecoversFrom()
    {
        await using var cluster = await TrainingCluster.StartAsync(silos: 2);
        var options = TestRuns.Options(microBatch: 2, microBatchesPerStep: 2, steps: 30);
        var undisturbed = await cluster.RunAsync(cluster.Spec("steady", options, workers: 2, checkpointEvery: 4));
        Assert.Equal(TrainingJobStatus.Completed, undisturbed.Status);

        // A retired worker answers the job's next call with an exception (it is no longer initialised),
        // as a worker whose step threw does: the job must roll back and carry on, not fail the run.
        await cluster.Grains.GetGrain<ITrainingJobGrain>("thrown").StartAsync(cluster.Spec("thrown", options, workers: 2, checkpointEvery: 4));
        bool retired = false;
        var result = await cluster.WaitAsync("thrown", TimeSpan.FromMinutes(3), async snapshot =>
        {
            if (retired || snapshot.Step < 5) return;
            await cluster.Grains.GetGrain<ITrainingWorkerGrain>(TrainingWorkerKey.For("thrown", snapshot.Generation, 1)).RetireAsync();
            retired = true;
        });

        Assert.True(retired, "the run finished before a worker could be retired");
        Assert.Equal(TrainingJobStatus.Completed, result.Status);
        Assert.True(result.Rollbacks >= 1, string.Join(" | ", result.Events));
        Assert.Contains(result.Events, e => e.Contains("InvalidOperationException") && e.Contains("rolled back"));
        Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), result.Steps.Select(s => s.Step));
        Assert.Equal(undisturbed.Steps[^1].ParameterHash, result.Steps[^1].ParameterHash);
    }

    [Fact]
    public async Task TrainingWorkerGrain_AccumulateAsync_OnAWorkerNotInitialised_ThrowsNamingTheWorker()
    {
        await using var cluster = await TrainingCluster.StartAsync(silos: 1);
        var worker = cluster.Grains.GetGrain<ITrainingWorkerGrain>(TrainingWorkerKey.For("nobody", 1, 0));

        // A peer's gradient chunk reaching a retired (or never initialised) worker, as after a rollback.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => worker.AccumulateAsync(1, 1, 0, new byte[16]));

        Assert.Contains("nobody/1/0", refused.Message);
    }
}
