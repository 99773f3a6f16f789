namespace MatMulFree.Grains.Serving.Backends;

/// <summary>The cluster's list of live backends, fed by their heartbeats; one instance, key <see cref="Key"/>.</summary>
public interface IBackendRegistryGrain : IGrainWithStringKey
{
    const string Key = "cluster";

    Task RegisterAsync(BackendInfo info);

    /// <summary>Backends heard from recently (any model when <paramref name="model"/> is null).</summary>
    Task<BackendInfo[]> ListAsync(string? model = null);
}
