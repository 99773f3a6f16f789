using System.Security.Cryptography;
using Orleans.Runtime;
using Orleans.Storage;

namespace MatMulFree.Grains.Serving;

/// <summary>
/// Owns the secret that keys the hash of API keys into session owner ids: drawn once, at the first
/// activation, and persisted beside the sessions, so owner ids live exactly as long as the sessions
/// they guard (gone with in-memory storage, kept across restarts and shared by every silo with Azure).
/// </summary>
public sealed class OwnerSecretGrain(
    [PersistentState("secret", ServingStorage.Sessions)] IPersistentState<OwnerSecret> secret) : Grain, IOwnerSecretGrain
{
    private const int SecretBytes = 32;

    public async Task<byte[]> GetAsync()
    {
        if (secret.State.Key.Length == SecretBytes)
            return secret.State.Key;
        secret.State.Key = RandomNumberGenerator.GetBytes(SecretBytes);
        try
        {
            await secret.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            // Another activation (a silo starting at the same moment) wrote its secret first: use that one.
            await secret.ReadStateAsync();
        }
        return secret.State.Key;
    }
}

/// <summary>The persisted secret of <see cref="OwnerSecretGrain"/>.</summary>
[GenerateSerializer]
public sealed class OwnerSecret
{
    [Id(0)] public byte[] Key { get; set; } = [];
}
