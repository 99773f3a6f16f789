namespace MatMulFree.Grains.Serving;

/// <summary>Picks the backend for a session's turn (a stateless worker: call it with key 0).</summary>
public interface IRouterGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// A backend key for <paramref name="model"/>: <paramref name="preferred"/> when it is alive and
    /// not saturated (session affinity: its cache holds the state), else the less loaded of two
    /// random live candidates, never one in <paramref name="excluded"/>.
    /// </summary>
    /// <exception cref="BackendBusyException">Every backend of the model is full.</exception>
    /// <exception cref="BackendUnavailableException">No live backend serves the model.</exception>
    Task<string> PickAsync(string model, string? preferred, string[] excluded);
}
