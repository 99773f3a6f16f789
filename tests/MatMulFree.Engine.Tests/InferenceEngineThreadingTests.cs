using MatMulFree.Core;
using MatMulFree.Engine.Threading;

namespace MatMulFree.Engine.Tests;

/// <summary>
/// The element-wise stages split by channel ranges with per-block sums added in order, whatever
/// the number of tokens or threads: a row's logits must not depend on either, bit for bit, or a
/// session decoded in a batch could sample another token than the same session decoded alone.
/// </summary>
public sealed class InferenceEngineThreadingTests
{
    // Widths that are not multiples of the 64-channel block, so that the split has a short last block,
    // and rows that are not multiples of the 4-row storage tile.
    private static readonly ModelConfig Shape = new()
    {
        VocabSize = 301, HiddenSize = 200, NumHiddenLayers = 2, IntermediateSize = 530, UseLowerBound = true,
    };

    private static void AssertSame(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}: logit {i} is {actual[i]:R}, expected {expected[i]:R}");
    }

    [Fact]
    public void InferenceEngine_Decode_ChannelSplitMatchesOneThread()
    {
        using var model = ServingConverter.Random(Shape, seed: 3);
        using var one = new InferenceEngine(model, threads: 1);
        using var two = new InferenceEngine(model, threads: 2);
        int v = Shape.VocabSize;
        var (s1, s2) = (one.CreateState(), two.CreateState());
        var (l1, l2) = (new float[v], new float[v]);
        foreach (int token in new[] { 1, 17, 250, 3, 99, 42 })
        {
            one.Decode(s1, token, l1);
            two.Decode(s2, token, l2);
            AssertSame(l1, l2, $"decode of {token}");
        }
        Assert.Equal(s1.Tokens, s2.Tokens);
    }

    [Fact]
    public void InferenceEngine_Prefill_ChannelSplitRecurrenceMatchesOneThread()
    {
        using var model = ServingConverter.Random(Shape, seed: 4);
        using var one = new InferenceEngine(model, threads: 1, maxRows: 8);
        using var two = new InferenceEngine(model, threads: 2, maxRows: 8);
        int[] prompt = [1, 5, 9, 200, 300, 7, 7, 7, 64, 128, 2, 0, 33];
        int v = Shape.VocabSize;
        var (l1, l2) = (new float[prompt.Length * v], new float[prompt.Length * v]);
        one.PrefillAllLogits(one.CreateState(), prompt, l1);
        two.PrefillAllLogits(two.CreateState(), prompt, l2);
        AssertSame(l1, l2, "prefill");
    }

    [Fact]
    public void InferenceEngine_DecodeBatch_ChannelSplitOfFewSessionsMatchesOneThread()
    {
        using var model = ServingConverter.Random(Shape, seed: 5);
        using var one = new InferenceEngine(model, threads: 1);
        using var two = new InferenceEngine(model, threads: 2);
        int v = Shape.VocabSize;
        var a = new[] { one.CreateState(), one.CreateState(), one.CreateState() };
        var b = new[] { two.CreateState(), two.CreateState(), two.CreateState() };
        var (l1, l2) = (new float[3 * v], new float[3 * v]);
        foreach (var tokens in new[] { new[] { 1, 2, 3 }, new[] { 250, 0, 17 } })
        {
            one.DecodeBatch(a, tokens, l1);
            two.DecodeBatch(b, tokens, l2);
            AssertSame(l1, l2, "batch of 3");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void InferenceEngine_DecodeBatch_EveryRowEqualsTheSessionDecodedAlone(int threads)
    {
        using var model = ServingConverter.Random(Shape, seed: 6);
        using var engine = new InferenceEngine(model, threads: threads);
        int v = Shape.VocabSize, sessions = 9;
        var batched = Enumerable.Range(0, sessions).Select(_ => engine.CreateState()).ToArray();
        var alone = Enumerable.Range(0, sessions).Select(_ => engine.CreateState()).ToArray();
        var batchLogits = new float[sessions * v];
        var aloneLogits = new float[v];
        for (int step = 0; step < 4; step++)
        {
            int[] tokens = Enumerable.Range(0, sessions).Select(i => (i * 37 + step * 101) % v).ToArray();
            engine.DecodeBatch(batched, tokens, batchLogits);
            for (int i = 0; i < sessions; i++)
            {
                engine.Decode(alone[i], tokens[i], aloneLogits);
                AssertSame(aloneLogits, batchLogits[(i * v)..((i + 1) * v)], $"step {step}, session {i} of {sessions}");
            }
        }
    }

    [Fact]
    public void WorkerPool_Run_CoversEveryIndexOnce()
    {
        using var pool = new WorkerPool(2);
        for (int round = 0; round < 3; round++)
        {
            foreach (int count in new[] { 1, 63, 64, 65, 1000 })
            {
                var job = new CountingJob(count);
                pool.Run(job, count, granularity: 64, chunksPerThread: 1);
                pool.Run(job, count, granularity: 4);
                Assert.All(job.Hits, h => Assert.Equal(2, h));
            }
            Thread.Sleep(5); // the worker falls asleep between rounds and is woken by the next job
        }
    }

    [Fact]
    public async Task WorkerPool_Run_ThousandsOfTinyJobsBackToBackEachRunOnce()
    {
        // Jobs of different chunk counts in quick succession: a worker that is still looking at the
        // previous job must never claim, run or count a chunk of the next one.
        using var pool = new WorkerPool(2);
        var small = new CountingJob(128);
        var large = new CountingJob(1024);
        var run = Task.Run(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                pool.Run(small, 128, granularity: 64, chunksPerThread: 1);
                pool.Run(large, 1024, granularity: 4);
            }
        });
        Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))) == run, "the pool stopped making progress");
        await run;
        Assert.All(small.Hits, h => Assert.Equal(20_000, h));
        Assert.All(large.Hits, h => Assert.Equal(20_000, h));
    }

    [Fact]
    public void WorkerPool_Run_RethrowsAChunksException()
    {
        using var pool = new WorkerPool(2);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(new ThrowingJob(), 1000, 4));
        Assert.Equal("chunk failed", e.Message);
        var job = new CountingJob(100);
        pool.Run(job, 100, 4);
        Assert.All(job.Hits, h => Assert.Equal(1, h));
    }

    private sealed class CountingJob(int count) : IRangeJob
    {
        public int[] Hits { get; } = new int[count];

        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++)
                Interlocked.Increment(ref Hits[i]);
        }
    }

    private sealed class ThrowingJob : IRangeJob
    {
        public void Execute(int start, int end)
        {
            if (start <= 500 && 500 < end)
                throw new InvalidOperationException("chunk failed");
        }
    }
}
