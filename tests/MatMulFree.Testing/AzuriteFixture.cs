using MatMulFree.Storage.Emulator;
using Xunit;

namespace MatMulFree.Testing;

/// <summary>
/// One Azurite for a test collection: started (and npm-installed on a fresh clone) before the
/// first test, killed with its process tree after the last. Use it as a collection fixture; the
/// collection definition must live in the test assembly itself (an xunit rule):
/// <code>
/// [CollectionDefinition(AzuriteFixture.Collection)]
/// public sealed class AzuriteCollection : ICollectionFixture&lt;AzuriteFixture&gt;;
/// </code>
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public const string Collection = "Azurite";

    /// <summary>
    /// For tests that start whole silo processes: xunit runs this collection after all others,
    /// alone, because a SIGKILL failover measured against timeouts must not share two cores
    /// with the rest of the suite.
    /// </summary>
    public const string ExclusiveCollection = "Azurite, exclusive";

    private AzuriteProcess? azurite;

    /// <summary>The running emulator (ports, endpoints, data folder).</summary>
    public AzuriteProcess Emulator => azurite ?? throw new InvalidOperationException("Azurite has not been started yet");

    /// <summary>Connection string with blob, queue and table endpoints of the emulator.</summary>
    public string ConnectionString => Emulator.ConnectionString;

    /// <summary>A container name no other test has used, so tests in a collection do not see each other's blobs.</summary>
    public static string UniqueContainer(string prefix = "t") => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)];

    public async Task InitializeAsync() => azurite = await AzuriteProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (azurite is not null) await azurite.DisposeAsync();
    }
}
