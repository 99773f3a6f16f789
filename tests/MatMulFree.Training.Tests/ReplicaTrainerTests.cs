namespace MatMulFree.Training.Tests;

public sealed class ReplicaTrainerTests
{
    /// <summary>Runs replicas in lockstep in one thread, reducing with the same buffers the worker grains use.</summary>
    private static (double Loss, string[] Hashes) Step(ReplicaTrainer[] replicas, long step)
    {
        int ranks = replicas.Length;
        double loss = 0;
        for (int r = 0; r < ranks; r++)
            loss += replicas[r].ComputeGradients(step, replicas[r].Sampler.MicroBatchesOf(r, ranks));
        int length = replicas[0].Gradient.Length;
        var reduced = new float[length];
        for (int owner = 0; owner < ranks; owner++)
        {
            var buffers = new ReduceScatterBuffers(length, owner, ranks);
            buffers.Begin(step);
            for (int sender = 0; sender < ranks; sender++)
                foreach (var chunk in GradientChunks.Split(replicas[sender].Gradient, buffers.SegmentStart, buffers.SegmentCount))
                    buffers.Receive(step, sender, chunk.Offset, chunk.Bytes);
            buffers.Reduce(reduced);
        }
        foreach (var replica in replicas) replica.Apply(step, (float[])reduced.Clone());
        return (loss, replicas.Select(r => r.ParameterHash()).ToArray());
    }

    [Fact]
    public void ReplicaTrainer_Apply_TwoReplicasOfBatchBMatchOneOfBatch2B()
    {
        var data = TestRuns.Data();
        using var single = new ReplicaTrainer(TestRuns.Options(microBatch: 4, microBatchesPerStep: 1), data);
        using var left = new ReplicaTrainer(TestRuns.Options(microBatch: 2, microBatchesPerStep: 2), data);
        using var right = new ReplicaTrainer(TestRuns.Options(microBatch: 2, microBatchesPerStep: 2), data);
        for (long step = 1; step <= 5; step++)
        {
            var (singleLoss, _) = Step([single], step);
            var (pairLoss, hashes) = Step([left, right], step);
            Assert.Equal(hashes[0], hashes[1]);
            Assert.Equal(singleLoss, pairLoss, 4);
        }
        foreach (var (p, q) in single.Model.parameters().Zip(left.Model.parameters()))
            Assert.True(p.allclose(q, rtol: 1e-4, atol: 1e-5), "parameters differ beyond fp32 tolerance");
    }

    [Fact]
    public void ReplicaTrainer_ComputeGradients_LowersTheLossOverSteps()
    {
        using var replica = new ReplicaTrainer(TestRuns.Options(4, 1, steps: 30) with { PeakRate = 1e-2 }, TestRuns.Data());
        var losses = Enumerable.Range(1, 30).Select(s => Step([replica], s).Loss).ToList();
        Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average() - 0.5, $"loss went {losses[0]:F3} -> {losses[^1]:F3}");
    }

    [Fact]
    public void ReplicaTrainer_Load_ContinuesBitForBit()
    {
        var data = TestRuns.Data();
        var options = TestRuns.Options(2, 2, steps: 6);
        using var straight = new ReplicaTrainer(options, data);
        for (long s = 1; s <= 3; s++) Step([straight], s);
        string folder = TestRuns.TempFolder();
        straight.Save(folder, new TrainerState(3, straight.Sampler.PositionAfter(3), options.Seed, straight.ParameterHash(), []));
        for (long s = 4; s <= 6; s++) Step([straight], s);

        using var resumed = new ReplicaTrainer(options, data);
        var state = resumed.Load(folder);
        Assert.Equal(3, resumed.Step);
        Assert.Equal(straight.Sampler.PositionAfter(3), state.DataPosition);
        for (long s = 4; s <= 6; s++) Step([resumed], s);
        Assert.Equal(straight.ParameterHash(), resumed.ParameterHash());
    }

    [Fact]
    public void ReplicaTrainer_ComputeGradients_RefusesAStepOutOfOrder()
    {
        using var replica = new ReplicaTrainer(TestRuns.Options(2, 1), TestRuns.Data());
        Assert.Throws<InvalidOperationException>(() => replica.ComputeGradients(2, [0]));
    }

    [Fact]
    public void FlatGradients_Scatter_RoundTripsThroughGather()
    {
        using var replica = new ReplicaTrainer(TestRuns.Options(2, 1), TestRuns.Data());
        replica.ComputeGradients(1, [0]);
        float[] gathered = (float[])replica.Gradient.Clone();
        Assert.Contains(gathered, g => g != 0);
        var flat = new FlatGradients(replica.Model.parameters());
        flat.Scatter(gathered);
        var again = new float[flat.Length];
        flat.Gather(again);
        Assert.Equal(gathered, again);
    }
}
