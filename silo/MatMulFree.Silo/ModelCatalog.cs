using MatMulFree.Grains.Serving;
using MatMulFree.Grains.Serving.Backends;
using Microsoft.Extensions.Logging;

namespace MatMulFree.Silo;

/// <summary>The models this silo loaded at start-up, by name; the HTTP API tokenizes with them and the backends run them.</summary>
public sealed class ModelCatalog : IDisposable
{
    private readonly Dictionary<string, ServedModel> _byName = new(StringComparer.Ordinal);

    public ModelCatalog(SiloSettings settings, ILogger<ModelCatalog> log)
    {
        foreach (string source in settings.Models)
        {
            var model = ServedModel.Load(source, settings.ModelCache, notice => log.LogInformation("{Notice}", notice), settings.ModelStore);
            if (!_byName.TryAdd(model.Name, model))
            {
                model.Dispose();
                throw new ServingRequestException($"two --model sources are both named '{model.Name}'");
            }
            log.LogInformation("serving model {Name} ({Identity}) from {Source}", model.Name, model.Engine.IdentityHex, source);
        }
    }

    public IReadOnlyCollection<ServedModel> All => _byName.Values;

    /// <exception cref="ServingRequestException">No model of that name (HTTP 404 for /v1 requests).</exception>
    public ServedModel Get(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new ServingRequestException($"model is required (served: {string.Join(", ", _byName.Keys)})");
        return _byName.GetValueOrDefault(name)
            ?? throw new UnknownModelException($"model '{name}' is not served here (served: {string.Join(", ", _byName.Keys)})");
    }

    /// <summary>
    /// This silo's <see cref="LocalBackends"/>: one batching backend per (model, device), a CPU device
    /// per model unless <see cref="SiloSettings.NoLocal"/>, and one per node in <see cref="SiloSettings.Nodes"/>.
    /// </summary>
    /// <exception cref="Core.MatMulFreeException">A node value is no URL, a node does not answer or serves none of the models, or nothing would be served.</exception>
    public async Task<LocalBackends> CreateBackendsAsync(SiloSettings settings, ServingMetrics metrics, CancellationToken cancellationToken = default)
    {
        var limits = settings.Limits;
        limits.Validate();
        var nodes = settings.Nodes.Select(NodeDevices.ParseAddress).ToList();
        if (settings.NoLocal && nodes.Count == 0)
            throw new ServingRequestException("--no-local serves only through nodes, and no --node was given");
        if (nodes.Select(NodeDevices.DeviceName).GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ServingRequestException($"--node {twice.Key["node:".Length..]} is given twice");
        var backends = new List<IComputeBackend>();
        try
        {
            if (!settings.NoLocal)
                // The device holds the cached states plus a working copy per batch row.
                backends.AddRange(All.Select(m => new DeviceBackend(m.Name,
                    new Serving.CpuDevice(m.Engine, settings.EngineThreads, limits.MaxBatch, limits.MaxCachedStates + limits.MaxBatch), limits, metrics)));
            foreach (var node in nodes)
            {
                var (model, steps, probe) = await NodeDevices.ConnectAsync(node, settings.NodeToken, All, cancellationToken);
                var batch = limits with { MaxBatch = Math.Min(limits.MaxBatch, steps.Capacity.MaxBatch) };
                backends.Add(new DeviceBackend(model.Name, steps, batch, metrics, name: NodeDevices.DeviceName(node), healthProbe: probe));
            }
        }
        catch
        {
            foreach (var backend in backends)
                backend.Dispose();
            throw;
        }
        return new LocalBackends(backends);
    }

    public void Dispose()
    {
        foreach (var model in _byName.Values)
            model.Dispose();
    }
}

/// <summary>The request names a model this silo does not serve (HTTP 404).</summary>
public sealed class UnknownModelException(string message) : Core.MatMulFreeException(message);
