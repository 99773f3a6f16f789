using System.Security.Cryptography;
using System.Text;
using MatMulFree.Grains.Serving;
using Orleans.Runtime;

namespace MatMulFree.Silo.Http;

/// <summary>
/// Turns an API key into the owner id its sessions are stored under: an HMAC-SHA256 of the key under
/// the cluster's secret (<see cref="IOwnerSecretGrain"/>), fetched once the silo is active and
/// before the HTTP server starts. Unlike a plain hash, the id cannot be tested against guessed keys
/// without the secret, and differs between clusters. At the same moment, sessions stored under the
/// old unkeyed ids of the configured keys are moved to their keyed ids.
/// </summary>
public sealed class SessionOwners(SiloSettings settings, IGrainFactory grains) : ILifecycleParticipant<ISiloLifecycle>
{
    private byte[]? _secret;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SessionOwners), ServiceLifecycleStage.Active, async _ =>
        {
            if (settings.ApiKeys.Count == 0)
                return;
            _secret = await grains.GetGrain<IOwnerSecretGrain>(0).GetAsync();
            foreach (string key in settings.ApiKeys)
                await AdoptLegacySessionsAsync(key);
        });

    /// <exception cref="BackendUnavailableException">The secret has not been fetched yet (the silo is still starting).</exception>
    public string Of(string key)
    {
        var secret = _secret ?? throw new BackendUnavailableException("the server is still starting: API keys cannot be checked yet");
        return "owner-" + Convert.ToHexStringLower(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes(key)))[..32];
    }

    /// <summary>The owner id sessions were stored under before it was keyed: the first 16 hex digits of the key's SHA-256.</summary>
    internal static string LegacyOf(string key) => "key-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];

    private async Task AdoptLegacySessionsAsync(string key)
    {
        string legacy = LegacyOf(key), owner = Of(key);
        foreach (string id in await grains.GetGrain<ISessionDirectoryGrain>(legacy).ListAsync())
            await grains.GetGrain<ISessionGrain>(id).TransferAsync(legacy, owner);
    }
}
