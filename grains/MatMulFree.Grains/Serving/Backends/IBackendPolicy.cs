namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// How the router chooses among the live backends of a model that have room, per turn. The
/// router has already dropped dead silos, devices out of rotation, full backends and those the
/// session excluded; a policy only ranks what is left (least loaded by default; latency,
/// throughput or energy policies weigh the same <see cref="BackendInfo"/>). Registered in the
/// silo's services; it must be thread-safe (every router activation of the silo shares it).
/// </summary>
public interface IBackendPolicy
{
    /// <param name="open">At least one backend, none saturated.</param>
    /// <param name="preferred">The backend of the session's previous turn (it may hold the state already), or null.</param>
    /// <returns>The key of one of <paramref name="open"/>.</returns>
    string Choose(IReadOnlyList<BackendInfo> open, string? preferred);
}
