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

    /// <summary>One batching CPU backend per model, for this silo's <see cref="LocalBackends"/>.</summary>
    public LocalBackends CreateBackends(SiloSettings settings, ServingMetrics metrics)
    {
        var limits = settings.Limits;
        limits.Validate();
        // The device holds the cached states plus a working copy per batch row.
        return new(All.Select(m => (IComputeBackend)new DeviceBackend(m.Name,
            new Serving.CpuDevice(m.Engine, settings.EngineThreads, limits.MaxBatch, limits.MaxCachedStates + limits.MaxBatch), limits, metrics)));
    }

    public void Dispose()
    {
        foreach (var model in _byName.Values)
            model.Dispose();
    }
}

/// <summary>The request names a model this silo does not serve (HTTP 404).</summary>
public sealed class UnknownModelException(string message) : Core.MatMulFreeException(message);
