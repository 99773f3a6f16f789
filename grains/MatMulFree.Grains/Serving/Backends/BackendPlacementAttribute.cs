using Orleans.Placement;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>Places a backend grain on the silo named in its key (see <see cref="BackendKey"/>); the silo host provides the director.</summary>
[GenerateSerializer, Immutable]
public sealed class BackendPlacementStrategy : PlacementStrategy;

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class BackendPlacementAttribute() : PlacementAttribute(new BackendPlacementStrategy());
