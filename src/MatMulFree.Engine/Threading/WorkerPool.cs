using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace MatMulFree.Engine.Threading;

/// <summary>
/// Persistent worker threads that share a job by claiming chunks of it from one atomic counter,
/// instead of a <c>Parallel.For</c> fork and join per product (a token of the 370M model runs
/// ≈ 450 jobs in a few ms: µs-scale forks would eat a large share).
/// <para>
/// Chunks are claimed, not assigned, because the cores are shared: on a loaded machine a worker
/// may not be scheduled for milliseconds, and with a fixed split the caller would wait for it.
/// Here the caller simply claims the remaining chunks itself and waits only for chunks a worker
/// has actually started. The counter packs the job's generation, its chunk count and the next
/// chunk index into one word, so a claim is one compare-and-swap that fails for a worker still
/// looking at an earlier job. (The chunk count used to be a separate field: a worker that read
/// an exhausted job's cursor and then the next job's larger count could claim a chunk that did not
/// exist, count it done in the next job, and leave the caller waiting forever.)
/// </para>
/// <para>
/// Every wait is a short spin bounded in time, then a block. A worker spins
/// <see cref="WorkerSpin"/> after a job (the next one follows within a microsecond or two while a
/// token runs), then sleeps on a monitor. The caller spins <see cref="CallerSpin"/> for a chunk a
/// worker still holds, then sleeps on an event: on a loaded machine that worker may have lost its
/// core for a whole time slice. (The previous pool spun 500 × <c>Thread.SpinWait(20)</c>, which
/// measured 250 µs here rather than the 20–40 µs intended, and its caller spun without bound: on
/// the shared cores a batch-1 token cost twice the CPU time with two threads as with one.)
/// Work too small to share is not given to the pool at all (the engine runs it on the caller).
/// One job at a time.
/// </para>
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private static readonly long WorkerSpin = Stopwatch.Frequency / 50_000; // 20 µs
    private static readonly long CallerSpin = Stopwatch.Frequency / 50_000; // 20 µs
    private const int ChunksPerThread = 8;

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private readonly ManualResetEventSlim _finished = new(false, spinCount: 1);
    private IRangeJob? _job;
    private const int ChunkBits = 16;
    private const long ChunkMask = (1L << ChunkBits) - 1;
    private int _count, _granularity;
    private long _cursor; // generation << 32 | chunk count << 16 | next chunk
    private int _done, _sleepers;
    private volatile bool _disposed;
    private Exception? _failure;

    /// <param name="threads">Threads that share a job, the caller's included.</param>
    public WorkerPool(int threads)
    {
        if (threads < 1)
            throw new EngineException($"threads must be at least 1, got {threads}");
        ThreadCount = threads;
        _threads = new Thread[threads - 1];
        for (int w = 0; w < _threads.Length; w++)
        {
            _threads[w] = new Thread(WorkerLoop) { IsBackground = true, Name = $"mmf-engine-{w + 1}" };
            _threads[w].Start();
        }
    }

    public int ThreadCount { get; }

    /// <summary>
    /// Runs <paramref name="job"/> over [0, count); chunk bounds are multiples of <paramref name="granularity"/>.
    /// <paramref name="chunksPerThread"/>: more chunks balance a late worker better, fewer cost fewer claims.
    /// </summary>
    public void Run(IRangeJob job, int count, int granularity = 1, int chunksPerThread = ChunksPerThread)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0)
            return;
        int units = (count + granularity - 1) / granularity;
        int chunks = (int)Math.Min(Math.Min(units, (long)ThreadCount * chunksPerThread), ChunkMask);
        if (chunks <= 1 || _threads.Length == 0)
        {
            job.Execute(0, count);
            return;
        }
        _job = job;
        _count = count;
        _granularity = granularity;
        _failure = null;
        Volatile.Write(ref _done, 0);
        _finished.Reset();
        long generation = (Volatile.Read(ref _cursor) >> 32) + 1;
        Interlocked.Exchange(ref _cursor, generation << 32 | (long)chunks << ChunkBits);
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_gate)
                Monitor.PulseAll(_gate);

        Work(generation);
        if (Volatile.Read(ref _done) != chunks)
        {
            long deadline = Stopwatch.GetTimestamp() + CallerSpin;
            while (Volatile.Read(ref _done) != chunks && Stopwatch.GetTimestamp() < deadline)
                Thread.SpinWait(1);
            while (Volatile.Read(ref _done) != chunks)
            {
                _finished.Wait();
                // A worker's Set of the previous job may land after this job's Reset; the count
                // is the truth, and a Set erased by this Reset follows an increment seen below.
                if (Volatile.Read(ref _done) != chunks)
                    _finished.Reset();
            }
        }
        _job = null;
        if (_failure is { } failure)
            ExceptionDispatchInfo.Capture(failure).Throw();
    }

    /// <summary>Claims and runs chunks of the job of <paramref name="generation"/> until none is left.</summary>
    private void Work(long generation)
    {
        while (true)
        {
            long cursor = Volatile.Read(ref _cursor);
            if (cursor >> 32 != generation)
                return;
            int chunk = (int)(cursor & ChunkMask), chunks = (int)(cursor >> ChunkBits & ChunkMask);
            if (chunk >= chunks)
                return;
            if (Interlocked.CompareExchange(ref _cursor, cursor + 1, cursor) != cursor)
                continue;
            // The claim succeeded, so the job is not finished and its fields stay put until this
            // chunk is counted done.
            try
            {
                int units = (_count + _granularity - 1) / _granularity;
                int start = (int)Math.Min(_count, (long)units * chunk / chunks * _granularity);
                int end = (int)Math.Min(_count, (long)units * (chunk + 1) / chunks * _granularity);
                if (start < end)
                    _job!.Execute(start, end);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            if (Interlocked.Increment(ref _done) == chunks)
                _finished.Set();
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            long deadline = Stopwatch.GetTimestamp() + WorkerSpin;
            while (Volatile.Read(ref _cursor) >> 32 == seen && !_disposed)
            {
                if (Stopwatch.GetTimestamp() < deadline)
                {
                    Thread.SpinWait(1);
                    continue;
                }
                lock (_gate)
                {
                    Interlocked.Increment(ref _sleepers);
                    while (Volatile.Read(ref _cursor) >> 32 == seen && !_disposed)
                        Monitor.Wait(_gate);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            if (_disposed)
                return;
            seen = Volatile.Read(ref _cursor) >> 32;
            Work(seen);
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        lock (_gate)
            Monitor.PulseAll(_gate);
        foreach (var t in _threads)
            t.Join();
        _finished.Dispose();
    }
}
