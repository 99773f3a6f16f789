namespace MatMulFree.Grains.Serving.Backends;

/// <summary>A compute backend of one silo, as the cluster sees it (key: <see cref="BackendKey"/>).</summary>
public interface IBackendGrain : IGrainWithStringKey
{
    /// <summary>Activates the grain, which registers with the <see cref="IBackendRegistryGrain"/> and keeps sending heartbeats.</summary>
    Task<BackendInfo> StartAsync();

    /// <summary>Runs one turn in the continuous batch; see <see cref="BackendTurn"/> for when the state travels.</summary>
    [ResponseTimeout("00:10:00")]
    IAsyncEnumerable<BackendEvent> RunAsync(BackendTurn turn, CancellationToken cancellationToken = default);
}
