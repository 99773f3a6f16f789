using MatMulFree.Grains.Serving;
using MatMulFree.Grains.Serving.Backends;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace MatMulFree.Silo;

/// <summary>
/// Activates a backend grain on the silo named in its key, the one whose hardware it fronts; when
/// that silo is gone the activation fails (the caller then routes elsewhere) instead of landing
/// on a silo that does not own the device.
/// </summary>
public sealed class BackendPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        string key = target.GrainIdentity.Key.ToString()!;
        var (_, silo, _) = BackendKey.Parse(key);
        SiloAddress address;
        try { address = SiloAddress.FromParsableString(silo); }
        catch (FormatException) { throw new BackendUnavailableException($"backend key '{key}' names no silo address"); }
        if (!context.GetCompatibleSilos(target).Contains(address))
            throw new BackendUnavailableException($"backend {key}: its silo is not in the cluster any more");
        return Task.FromResult(address);
    }
}
