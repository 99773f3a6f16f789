using MatMulFree.Testing;

namespace MatMulFree.Serving.Tests;

/// <summary>Tests that need Azure Storage share one Azurite, started once for this assembly's collection.</summary>
[CollectionDefinition(AzuriteFixture.Collection)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>;

/// <summary>Multi-process tests: their own Azurite, run alone after every other collection.</summary>
[CollectionDefinition(AzuriteFixture.ExclusiveCollection, DisableParallelization = true)]
public sealed class ExclusiveAzuriteCollection : ICollectionFixture<AzuriteFixture>;
