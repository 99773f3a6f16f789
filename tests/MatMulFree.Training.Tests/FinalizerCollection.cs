namespace MatMulFree.Training.Tests;

/// <summary>Tests that count finalizations, which are process-wide: run alone, after every other collection.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FinalizerCollection
{
    public const string Name = "finalizer";
}
