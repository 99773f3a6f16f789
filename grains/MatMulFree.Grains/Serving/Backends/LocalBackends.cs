namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// The compute backends of this silo's process, by model name: what its backend grains front.
/// Filled by the silo host at start-up; read-only afterwards.
/// </summary>
public sealed class LocalBackends(IEnumerable<IComputeBackend> backends) : IDisposable
{
    private readonly Dictionary<string, IComputeBackend> _byModel = backends.ToDictionary(b => b.Capabilities.Model, StringComparer.Ordinal);

    public IReadOnlyCollection<IComputeBackend> All => _byModel.Values;

    public IComputeBackend? Find(string model) => _byModel.GetValueOrDefault(model);

    public void Dispose()
    {
        foreach (var backend in _byModel.Values)
            backend.Dispose();
    }
}
