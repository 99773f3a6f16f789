using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace MatMulFree.Grains.Training;

/// <summary>
/// Puts a new worker activation on the silo the job chose for it (passed in the request context
/// under <see cref="DistinctSilosPlacement.TargetSiloKey"/>, because the job knows which silos its
/// other workers hold and which just died). Without that hint, or when that silo is no longer
/// compatible, rank r goes to the r-th compatible silo in address order, which still keeps the
/// ranks of one generation apart whenever there are at least as many silos as ranks.
/// </summary>
public sealed class DistinctSilosPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        SiloAddress[] silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToArray();
        if (silos.Length == 0) throw new OrleansException($"no silo can host {target.GrainIdentity}");
        if (target.RequestContextData?.TryGetValue(DistinctSilosPlacement.TargetSiloKey, out object? wanted) == true
            && silos.FirstOrDefault(s => s.ToParsableString() == wanted as string) is { } chosen)
            return Task.FromResult(chosen);
        int rank = TrainingWorkerKey.RankOf(target.GrainIdentity.Key.ToString()!);
        return Task.FromResult(silos[rank % silos.Length]);
    }
}
