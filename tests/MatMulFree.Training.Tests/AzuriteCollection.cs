using MatMulFree.Testing;

namespace MatMulFree.Training.Tests;

/// <summary>The multi-process tests share one Azurite: cluster membership, grain state and the checkpoint store.</summary>
[CollectionDefinition(AzuriteFixture.Collection)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>;

/// <summary>Multi-process tests: their own Azurite, run alone after every other collection.</summary>
[CollectionDefinition(AzuriteFixture.ExclusiveCollection, DisableParallelization = true)]
public sealed class ExclusiveAzuriteCollection : ICollectionFixture<AzuriteFixture>;
