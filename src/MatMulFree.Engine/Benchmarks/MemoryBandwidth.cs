using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MatMulFree.Engine.Threading;

namespace MatMulFree.Engine.Benchmarks;

/// <summary>
/// Measures this machine's memory read bandwidth the way the engine reads weights: the same
/// worker threads streaming through a buffer far larger than the caches, summing as they go.
/// </summary>
public static unsafe class MemoryBandwidth
{
    /// <summary>Best of <paramref name="repeats"/> passes over <paramref name="bytes"/>, in bytes per second.</summary>
    public static double Measure(int threads, long bytes = 512L << 20, int repeats = 5)
    {
        using var pool = new WorkerPool(threads);
        var buffer = GC.AllocateUninitializedArray<byte>(checked((int)bytes), pinned: true);
        new Random(1).NextBytes(buffer.AsSpan(0, 4096));
        for (long i = 4096; i < bytes; i += 4096)
            buffer.AsSpan(0, 4096).CopyTo(buffer.AsSpan((int)i, (int)Math.Min(4096, bytes - i)));
        fixed (byte* p = buffer)
        {
            var job = new SumJob(p);
            int chunks = (int)(bytes / SumJob.ChunkBytes);
            double best = 0;
            for (int r = 0; r < repeats; r++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                pool.Run(job, chunks);
                double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
                best = Math.Max(best, chunks * (double)SumJob.ChunkBytes / seconds);
            }
            GC.KeepAlive(job.Sink);
            return best;
        }
    }

    private sealed class SumJob(byte* data) : IRangeJob
    {
        public const int ChunkBytes = 1 << 16;
        public long Sink;

        [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int start, int end)
        {
            var a = Vector256<long>.Zero;
            var b = Vector256<long>.Zero;
            for (long p = (long)start * ChunkBytes; p < (long)end * ChunkBytes; p += 64)
            {
                a += Vector256.Load((long*)(data + p));
                b += Vector256.Load((long*)(data + p + 32));
            }
            Interlocked.Add(ref Sink, Vector256.Sum(a + b));
        }
    }
}
