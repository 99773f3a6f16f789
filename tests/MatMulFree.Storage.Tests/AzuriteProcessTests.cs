using MatMulFree.Testing;

namespace MatMulFree.Storage.Tests;

/// <summary>The emulator as the tests and benchmarks launch it: what its process was really started with.</summary>
[Collection(AzuriteFixture.Collection)]
public sealed class AzuriteProcessTests(AzuriteFixture azurite)
{
    [Fact]
    public void AzuriteProcess_StartAsync_RunsWithTelemetryDisabled()
    {
        // The kernel's record of the arguments, so the test sees what Azurite itself was given.
        string[] arguments = File.ReadAllText($"/proc/{azurite.Emulator.ProcessId}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);

        Assert.Contains("--disableTelemetry", arguments);
        Assert.Equal("127.0.0.1", arguments[Array.IndexOf(arguments, "--blobHost") + 1]);
    }
}
