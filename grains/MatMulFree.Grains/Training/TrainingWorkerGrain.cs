using MatMulFree.Storage;
using MatMulFree.Training;

namespace MatMulFree.Grains.Training;

/// <summary>
/// One replica of a data-parallel run: the model and AdamW state on a dedicated TorchSharp thread
/// (<see cref="TorchThread"/>), so the grain's turns only move bytes and await. Placed on a silo of
/// its own by <see cref="DistinctSilosPlacement"/>. Called by <see cref="TrainingJobGrain"/> for
/// each phase of a step and by its peers for the all-reduce. Holds no persistent state: a lost
/// worker is replaced by a new generation that starts from the run's last checkpoint.
/// </summary>
[DistinctSilosPlacement]
public sealed class TrainingWorkerGrain(ILocalSiloDetails silo) : Grain, ITrainingWorkerGrain
{
    private WorkerAssignment? assignment;
    private TorchThread? torch;
    private ReplicaTrainer? trainer;
    private ReduceScatterBuffers? buffers;
    private long gatheredFloats;

    public async Task<WorkerReady> InitializeAsync(WorkerAssignment work)
    {
        if (assignment is not null) throw new InvalidOperationException($"worker {this.GetPrimaryKeyString()} is already initialised");
        assignment = work;
        var options = TrainingOptions.Parse(work.OptionsJson, $"run '{work.Run}' options");
        var data = StoreLocation.Resolve(work.DataUri, work.StoreUri);
        var dataset = await Task.Run(() => TokenDataset.LoadAsync(data.Open(), data.Path));
        torch = new TorchThread($"mmf-train-{work.Run}-r{work.Rank}");
        trainer = await torch.RunAsync(() => new ReplicaTrainer(options, dataset));
        if (work.CheckpointStep is long step)
        {
            string folder = TemporaryFolder();
            try
            {
                await Task.Run(() => Checkpoints().DownloadAsync(step, folder));
                await torch.RunAsync(() => trainer.Load(folder));
            }
            finally { Directory.Delete(folder, recursive: true); }
        }
        buffers = new ReduceScatterBuffers(trainer.Gradient.Length, work.Rank, work.Ranks);
        return new WorkerReady(silo.SiloAddress.ToParsableString(), trainer.Step, await torch.RunAsync(trainer.ParameterHash));
    }

    public async Task<double> ComputeAsync(long step)
    {
        var (work, replica) = Ready();
        // Peers start sending this step's chunks only after every rank has computed (the job's
        // barrier), so the buffers are reset before the first chunk can arrive.
        buffers!.Begin(step);
        gatheredFloats = 0;
        var mine = replica.Sampler.MicroBatchesOf(work.Rank, work.Ranks);
        return await torch!.RunAsync(() => replica.ComputeGradients(step, mine));
    }

    public async Task<long> ReduceScatterAsync(long step)
    {
        var (work, replica) = Ready();
        var sends = new List<Task<long>>();
        for (int peer = 0; peer < work.Ranks; peer++)
        {
            var (start, count) = GradientChunks.Segment(replica.Gradient.Length, peer, work.Ranks);
            if (peer == work.Rank)
            {
                foreach (var chunk in GradientChunks.Split(replica.Gradient, start, count))
                    buffers!.Receive(step, work.Rank, chunk.Offset, chunk.Bytes);
                continue;
            }
            var target = Peer(peer);
            sends.Add(SendAsync(GradientChunks.Split(replica.Gradient, start, count), c => target.AccumulateAsync(step, work.Rank, c.Offset, c.Bytes)));
        }
        return (await Task.WhenAll(sends)).Sum();
    }

    public Task AccumulateAsync(long step, int sender, int offset, byte[] bytes)
    {
        Ready(); // a peer's chunk can reach a worker that was retired, and then reactivated empty, by a rollback
        buffers!.Receive(step, sender, offset, bytes);
        return Task.CompletedTask;
    }

    public async Task<long> AllGatherAsync(long step)
    {
        var (work, replica) = Ready();
        buffers!.Reduce(replica.Gradient);
        var sends = Enumerable.Range(0, work.Ranks).Where(r => r != work.Rank).Select(peer =>
        {
            var target = Peer(peer);
            return SendAsync(GradientChunks.Split(replica.Gradient, buffers.SegmentStart, buffers.SegmentCount),
                c => target.ReceiveReducedAsync(step, c.Offset, c.Bytes));
        });
        return (await Task.WhenAll(sends)).Sum();
    }

    public Task ReceiveReducedAsync(long step, int offset, byte[] bytes)
    {
        var (_, replica) = Ready();
        if (step != buffers!.Step) throw new InvalidOperationException($"worker {this.GetPrimaryKeyString()} is at step {buffers.Step}; got reduced chunk of step {step}");
        GradientChunks.CopyInto(replica.Gradient, offset, bytes);
        gatheredFloats += bytes.Length / sizeof(float);
        return Task.CompletedTask;
    }

    public async Task<WorkerApplied> ApplyAsync(long step)
    {
        var (_, replica) = Ready();
        long expected = replica.Gradient.Length - buffers!.SegmentCount;
        if (step != buffers.Step || gatheredFloats != expected)
            throw new InvalidOperationException($"worker {this.GetPrimaryKeyString()} has {gatheredFloats} of {expected} reduced floats of step {step}: refusing a half-reduced update");
        var (rate, norm) = await torch!.RunAsync(() => replica.Apply(step, replica.Gradient));
        return new WorkerApplied(rate, norm, await torch.RunAsync(replica.ParameterHash));
    }

    public async Task SaveCheckpointAsync(long step, StepRecord[] steps)
    {
        var (work, replica) = Ready();
        string folder = TemporaryFolder();
        try
        {
            await torch!.RunAsync(() =>
            {
                var state = new TrainerState(step, replica.Sampler.PositionAfter(step), replica.Options.Seed, replica.ParameterHash(),
                    steps.Select(s => s.ToMetrics()).ToList());
                replica.Save(folder, state);
            });
            await Task.Run(() => Checkpoints().SaveAsync(folder, step));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    public Task RetireAsync()
    {
        Release();
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Release();
        return Task.CompletedTask;
    }

    private void Release()
    {
        var (t, r) = (torch, trainer);
        (torch, trainer) = (null, null);
        if (t is null) return;
        if (r is not null) t.RunAsync(r.Dispose).ContinueWith(_ => t.Dispose(), TaskScheduler.Default);
        else t.Dispose();
    }

    private (WorkerAssignment, ReplicaTrainer) Ready() =>
        assignment is not null && trainer is not null && buffers is not null ? (assignment, trainer)
        : throw new InvalidOperationException($"worker {this.GetPrimaryKeyString()} is not initialised (or was retired)");

    private ITrainingWorkerGrain Peer(int rank) =>
        GrainFactory.GetGrain<ITrainingWorkerGrain>(TrainingWorkerKey.For(assignment!.Run, assignment.Generation, rank));

    private RunCheckpoints Checkpoints() =>
        new(StoreLocation.Resolve(null, assignment!.StoreUri).Open(), assignment.Run, new RetentionPolicy(assignment.KeepCheckpoints));

    private static async Task<long> SendAsync(IEnumerable<GradientChunks.Chunk> chunks, Func<GradientChunks.Chunk, Task> send)
    {
        long bytes = 0;
        foreach (var chunk in chunks)
        {
            await send(chunk);
            bytes += chunk.Bytes.Length;
        }
        return bytes;
    }

    private static string TemporaryFolder() => Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mmf-train", Guid.NewGuid().ToString("N"))).FullName;
}
