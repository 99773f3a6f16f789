using System.Diagnostics;
using Orleans.Concurrency;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// Keeps the latest heartbeat of every backend in memory. Nothing is persisted: after a failover
/// the registry is refilled within one heartbeat period. Entries older than
/// <see cref="Expiry"/> are dropped (their silo is gone or hung). Called by backend grains
/// (register) and routers (list).
/// </summary>
[Reentrant]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class BackendRegistryGrain : Grain, IBackendRegistryGrain
{
    public static readonly TimeSpan Expiry = BackendGrain.HeartbeatPeriod * 5;

    // Ages come from the monotonic clock: wall-clock time can jump (it does on this kind of VM) and would expire every entry at once.
    private readonly Dictionary<string, (BackendInfo Info, long Heard)> _backends = new(StringComparer.Ordinal);

    public Task RegisterAsync(BackendInfo info)
    {
        _backends[info.Key] = (info with { Seen = DateTimeOffset.UtcNow }, Stopwatch.GetTimestamp());
        return Task.CompletedTask;
    }

    public Task RemoveAsync(string key)
    {
        _backends.Remove(key);
        return Task.CompletedTask;
    }

    public Task<BackendInfo[]> ListAsync(string? model = null)
    {
        foreach (var stale in _backends.Where(b => Stopwatch.GetElapsedTime(b.Value.Heard) > Expiry).Select(b => b.Key).ToList())
            _backends.Remove(stale);
        return Task.FromResult(_backends.Values.Select(b => b.Info).Where(b => model is null || b.Capabilities.Model == model).ToArray());
    }
}
