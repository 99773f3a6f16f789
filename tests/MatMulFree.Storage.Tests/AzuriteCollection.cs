using MatMulFree.Testing;

namespace MatMulFree.Storage.Tests;

/// <summary>Every Azure test class shares one Azurite, started once for this assembly's collection.</summary>
[CollectionDefinition(AzuriteFixture.Collection)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>;
