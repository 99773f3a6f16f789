using System.Runtime.ExceptionServices;

namespace MatMulFree.Engine.Threading;

/// <summary>
/// Persistent worker threads that share a job by claiming chunks of it from one atomic counter,
/// instead of a <c>Parallel.For</c> fork and join per product (a token of the 370M model runs
/// ≈ 150 products in a few ms: µs-scale forks would eat a large share).
/// <para>
/// Chunks are claimed, not assigned, because the cores are shared: on a loaded machine a worker
/// may not be scheduled for milliseconds, and with a fixed split the caller would wait for it.
/// Here the caller simply claims the remaining chunks itself and waits only for chunks a worker
/// has actually started. The counter packs the job's generation with the next chunk index, so a
/// worker that wakes late can never claim a chunk of a later job as if it were its own.
/// </para>
/// Workers spin briefly after each job (the next one usually follows within microseconds), then
/// sleep on a monitor so an idle engine does not burn the shared cores. One job at a time.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    // ≈ 20–40 µs of spinning before a worker sleeps: longer than the gap between the products of
    // one token, short enough not to steal much from other processes on the shared cores.
    private const int SpinIterations = 500;
    private const int ChunksPerThread = 8;

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private IRangeJob? _job;
    private int _count, _granularity, _chunks;
    private long _cursor; // generation << 32 | next chunk
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

    /// <summary>Runs <paramref name="job"/> over [0, count); chunk bounds are multiples of <paramref name="granularity"/>.</summary>
    public void Run(IRangeJob job, int count, int granularity = 1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0)
            return;
        int units = (count + granularity - 1) / granularity;
        int chunks = Math.Min(units, ThreadCount * ChunksPerThread);
        if (chunks <= 1 || _threads.Length == 0)
        {
            job.Execute(0, count);
            return;
        }
        _job = job;
        _count = count;
        _granularity = granularity;
        _chunks = chunks;
        _failure = null;
        Volatile.Write(ref _done, 0);
        long generation = (Volatile.Read(ref _cursor) >> 32) + 1;
        Interlocked.Exchange(ref _cursor, generation << 32);
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_gate)
                Monitor.PulseAll(_gate);

        Work(generation);
        var spin = new SpinWait();
        while (Volatile.Read(ref _done) != chunks)
            spin.SpinOnce(sleep1Threshold: -1);
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
            int chunk = (int)(cursor & 0xFFFFFFFF);
            if (chunk >= _chunks)
                return;
            if (Interlocked.CompareExchange(ref _cursor, cursor + 1, cursor) != cursor)
                continue;
            try
            {
                int units = (_count + _granularity - 1) / _granularity;
                int start = (int)Math.Min(_count, (long)units * chunk / _chunks * _granularity);
                int end = (int)Math.Min(_count, (long)units * (chunk + 1) / _chunks * _granularity);
                if (start < end)
                    _job!.Execute(start, end);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            Interlocked.Increment(ref _done);
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _cursor) >> 32 == seen && !_disposed)
            {
                if (++spins < SpinIterations)
                {
                    Thread.SpinWait(20);
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
    }
}
