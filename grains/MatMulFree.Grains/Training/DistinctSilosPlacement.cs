using Orleans.Placement;
using Orleans.Runtime;

namespace MatMulFree.Grains.Training;

/// <summary>
/// Places the workers of a run on distinct silos: each silo is one machine, and two replicas on
/// one machine would only share its cores. Orleans' <c>SiloRoleBasedPlacement</c> matches a role to
/// the grain key, not a machine, so it cannot express this. See <see cref="DistinctSilosPlacementDirector"/>.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class DistinctSilosPlacement : PlacementStrategy
{
    /// <summary>Request-context key under which the job names the silo it chose for a worker.</summary>
    public const string TargetSiloKey = "mmf-training-silo";
}

/// <summary>Marks a grain class as placed by <see cref="DistinctSilosPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class DistinctSilosPlacementAttribute() : PlacementAttribute(new DistinctSilosPlacement());
