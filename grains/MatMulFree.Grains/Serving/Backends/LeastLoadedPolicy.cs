namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// The default <see cref="IBackendPolicy"/>: stay on the session's backend while it has a free
/// batch slot (its state is cached there), else the better of two backends drawn at random by
/// load times cost (power of two choices: near the least-loaded choice without every router
/// piling onto the same backend between heartbeats).
/// </summary>
public sealed class LeastLoadedPolicy : IBackendPolicy
{
    public string Choose(IReadOnlyList<BackendInfo> open, string? preferred)
    {
        if (preferred is not null && open.FirstOrDefault(b => b.Key == preferred) is { } sticky && sticky.Load < 1)
            return sticky.Key;
        if (open.Count == 1)
            return open[0].Key;
        int a = Random.Shared.Next(open.Count), b = Random.Shared.Next(open.Count - 1);
        if (b >= a) b++;
        return Score(open[a]) <= Score(open[b]) ? open[a].Key : open[b].Key;
    }

    private static double Score(BackendInfo b) => (1 + b.Load) * b.Capabilities.Cost;
}
