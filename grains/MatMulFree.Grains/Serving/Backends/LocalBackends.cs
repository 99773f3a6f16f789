namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// The compute backends of this silo's process, by (model, device): what its backend grains front.
/// A silo may hold its own CPU device and any number of remote nodes for one model. Filled by the
/// silo host at start-up; read-only afterwards.
/// </summary>
public sealed class LocalBackends(IEnumerable<IComputeBackend> backends) : IDisposable
{
    private readonly Dictionary<(string Model, string Device), IComputeBackend> _byKey =
        backends.ToDictionary(b => (b.Capabilities.Model, b.Capabilities.Device));

    public IReadOnlyCollection<IComputeBackend> All => _byKey.Values;

    public IComputeBackend? Find(string model, string device = BackendKey.LocalDevice) => _byKey.GetValueOrDefault((model, device));

    public void Dispose()
    {
        foreach (var backend in _byKey.Values)
            backend.Dispose();
    }
}
