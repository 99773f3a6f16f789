namespace MatMulFree.Grains.Serving.Backends;

/// <summary>The cluster's list of live backends, fed by their heartbeats; one instance, key <see cref="Key"/>.</summary>
public interface IBackendRegistryGrain : IGrainWithStringKey
{
    const string Key = "cluster";

    Task RegisterAsync(BackendInfo info);

    /// <summary>Forgets a backend at once (its device failed a health check), rather than when its heartbeats expire.</summary>
    Task RemoveAsync(string key);

    /// <summary>Backends heard from recently (any model when <paramref name="model"/> is null).</summary>
    Task<BackendInfo[]> ListAsync(string? model = null);
}
