using System.Diagnostics;
using MatMulFree.Grains.Serving.Backends;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace MatMulFree.Grains.Serving;

/// <summary>
/// Routes turns to backends by model, health and load: it keeps the live backends with room and
/// lets the silo's <see cref="IBackendPolicy"/> choose (<see cref="LeastLoadedPolicy"/> unless the
/// host registers another). Owns nothing but a short-lived copy of the registry's list,
/// filtered by the cluster membership so a dead silo's backends are skipped before their
/// heartbeats expire. A stateless worker, one per silo, called by <see cref="SessionGrain"/>.
/// </summary>
[StatelessWorker]
public sealed class RouterGrain(IClusterMembershipService membership, IBackendPolicy policy) : Grain, IRouterGrain
{
    private static readonly TimeSpan Freshness = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan WaitForBackends = TimeSpan.FromSeconds(5);

    private BackendInfo[] _list = [];
    private long _listed;

    public async Task<string> PickAsync(string model, string? preferred, string[] excluded)
    {
        // Right after start-up (or a failover) backends may not have registered yet: wait briefly.
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            var live = (await ListAsync(model)).Where(b => Array.IndexOf(excluded, b.Key) < 0).ToArray();
            var open = live.Where(b => !b.Saturated).ToArray();
            if (open.Length > 0)
                return Choose(open, preferred);
            if (live.Length > 0)
            {
                int retry = Math.Max(1, (int)Math.Ceiling(live.Min(b => b.Load)));
                throw new BackendBusyException($"every backend of model {model} is full; retry in {retry} s", retry);
            }
            if (Stopwatch.GetElapsedTime(started) > WaitForBackends)
            {
                var asked = await AskActiveSilosAsync(model);
                var found = asked.Where(b => Array.IndexOf(excluded, b.Key) < 0 && !b.Saturated).ToArray();
                if (found.Length > 0)
                    return Choose(found, preferred);
                throw new BackendUnavailableException(
                    $"no live backend serves model '{model}' (registry: {_list.Length} backends, {live.Length} live; " +
                    $"asked {membership.CurrentSnapshot.Members.Count(m => m.Value.Status == SiloStatus.Active)} active silos directly: {asked.Length} answered; excluded: {excluded.Length})");
            }
            _listed = 0;
            await Task.Delay(Freshness);
        }
    }

    private string Choose(BackendInfo[] open, string? preferred)
    {
        string key = policy.Choose(open, preferred);
        return Array.Exists(open, b => b.Key == key) ? key
            : throw new InvalidOperationException($"backend policy {policy.GetType().Name} chose '{key}', which is not one of the {open.Length} backends it was offered");
    }

    private async Task<BackendInfo[]> ListAsync(string model)
    {
        if (_listed == 0 || Stopwatch.GetElapsedTime(_listed) > Freshness)
        {
            _list = await GrainFactory.GetGrain<IBackendRegistryGrain>(IBackendRegistryGrain.Key).ListAsync();
            _listed = Stopwatch.GetTimestamp();
        }
        var snapshot = membership.CurrentSnapshot;
        return _list.Where(b => b.Capabilities.Model == model && IsActive(snapshot, b.Key)).ToArray();
    }

    // The registry is a cache refilled by heartbeats; after a failover it can stay wrong for a
    // while (a duplicate activation, a directory still pointing at the dead silo). Backend grains are
    // placed on the silo their key names, so asking each active silo's backend directly needs no registry.
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(2);

    private async Task<BackendInfo[]> AskActiveSilosAsync(string model)
    {
        var asks = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(async m =>
            {
                try
                {
                    var key = BackendKey.Format(model, m.SiloAddress.ToParsableString());
                    return await GrainFactory.GetGrain<IBackendGrain>(key).StartAsync().WaitAsync(AskTimeout);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    return null; // that silo serves no such model, or does not answer
                }
            });
        return (await Task.WhenAll(asks)).OfType<BackendInfo>().ToArray();
    }

    private static bool IsActive(ClusterMembershipSnapshot snapshot, string key)
    {
        try
        {
            return snapshot.GetSiloStatus(SiloAddress.FromParsableString(BackendKey.Parse(key).Silo)) == SiloStatus.Active;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
