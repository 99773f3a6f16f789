namespace MatMulFree.Engine.Threading;

/// <summary>Work over [0, count) that <see cref="WorkerPool"/> splits into one contiguous range per thread.</summary>
public interface IRangeJob
{
    void Execute(int start, int end);
}
