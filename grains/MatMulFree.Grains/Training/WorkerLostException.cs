namespace MatMulFree.Grains.Training;

/// <summary>A worker's silo died or a phase of a step timed out: the job rolls back and carries on.</summary>
[GenerateSerializer]
public sealed class WorkerLostException : Exception
{
    public WorkerLostException(string message) : base(message) { }
}
