using MatMulFree.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Training.Tests;

/// <summary>
/// Two replicas of one run stepping at the same time in one process, each on its own
/// <see cref="TorchThread"/> as the worker grains hold them, while another thread keeps the garbage
/// collector and the finalizer thread busy. A TorchSharp Scalar or Tensor that only the finalizer
/// frees can be freed while libtorch still reads it (the README's two-worker run died of that at
/// step 34, in AdamW's addcmul_); the race itself is rare, so the test counts what was left to the
/// finalizer, which must be nothing.
/// </summary>
[Collection(FinalizerCollection.Name)]
public sealed class ConcurrentReplicasTests
{
    [Fact]
    public async Task ReplicaTrainer_TwoReplicasOnTheirOwnThreads_StepInLockstepLeavingNothingToTheFinalizer()
    {
        const int steps = 40;
        var data = TestRuns.Data();
        var options = TestRuns.Options(microBatch: 2, microBatchesPerStep: 2, steps: steps);
        using var watch = new FinalizerWatch(typeof(Scalar), typeof(Tensor));
        using (var collector = new Collector())
        using (var left = new TorchThread("replica-0"))
        using (var right = new TorchThread("replica-1"))
        {
            TorchThread[] threads = [left, right];
            var replicas = await Task.WhenAll(threads.Select(t => t.RunAsync(() => new ReplicaTrainer(options, data))));
            try
            {
                for (long step = 1; step <= steps; step++)
                {
                    long s = step;
                    await Task.WhenAll(replicas.Select((r, rank) => threads[rank].RunAsync(() => r.ComputeGradients(s, r.Sampler.MicroBatchesOf(rank, 2)))));
                    var reduced = new float[replicas[0].Gradient.Length];
                    for (int i = 0; i < reduced.Length; i++) reduced[i] = replicas[0].Gradient[i] + replicas[1].Gradient[i];
                    var hashes = await Task.WhenAll(replicas.Select((r, rank) => threads[rank].RunAsync(() =>
                    {
                        r.Apply(s, (float[])reduced.Clone());
                        return r.ParameterHash();
                    })));
                    Assert.Equal(hashes[0], hashes[1]);
                }
            }
            finally
            {
                await Task.WhenAll(replicas.Select((r, rank) => threads[rank].RunAsync(r.Dispose)));
            }
            Assert.True(collector.Collections > steps, $"only {collector.Collections} collections ran during {steps} steps");
        }
        var finalized = watch.Close();
        Assert.True(finalized.Values.All(n => n == 0), $"left to the finalizer: {string.Join(", ", finalized.Select(f => $"{f.Value} {f.Key.Name}"))}");
    }

    /// <summary>Full blocking collections and finalizer runs, back to back, until disposed.</summary>
    private sealed class Collector : IDisposable
    {
        private readonly Thread thread;
        private volatile bool stop;
        private int collections;

        public Collector()
        {
            thread = new Thread(() =>
            {
                while (!stop)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    Interlocked.Increment(ref collections);
                }
            }) { IsBackground = true, Name = "collector" };
            thread.Start();
        }

        public int Collections => Volatile.Read(ref collections);

        public void Dispose()
        {
            stop = true;
            thread.Join();
        }
    }
}
