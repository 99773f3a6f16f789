using System.Net;
using MatMulFree.Grains.Serving.Backends;
using Microsoft.Extensions.Configuration;
using Orleans.Hosting;

namespace MatMulFree.Silo;

/// <summary>
/// Everything that differs between the ways a silo runs (embedded by <c>mmf serve</c>, standalone
/// for multi-process tests and deployments, in tests). Read from configuration (command line
/// <c>--Key value</c>, or <c>MMF_</c> environment variables) by <see cref="FromConfiguration"/>.
/// </summary>
public sealed class SiloSettings
{
    /// <summary>Models to serve: Hugging Face folders, folders with a converted model.mmfserve, store URIs (…/models/NAME[/VERSION]), or <c>random:370m</c> (random weights of a preset shape, for benchmarks).</summary>
    public List<string> Models { get; init; } = [];

    /// <summary>The store that model paths inside a store (models/NAME, runs/RUN) are resolved in (as <c>--store</c> elsewhere); null: $MMF_STORE, else the default store.</summary>
    public string? ModelStore { get; init; }

    /// <summary>Azure Storage connection string (or Azurite's) for session and training grain state; null keeps it in memory (lost when the silo stops).</summary>
    public string? StorageConnectionString { get; init; }

    /// <summary>Azure Table connection string for cluster membership (several silos, several processes); null is a single localhost silo.</summary>
    public string? ClusteringConnectionString { get; init; }

    public string ClusterId { get; init; } = "mmf";
    public string ServiceId { get; init; } = "mmf";
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;
    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;

    /// <summary>Where the HTTP API listens, e.g. http://127.0.0.1:8080; null: no HTTP API (tests of grains only).</summary>
    public string? HttpUrl { get; init; }

    /// <summary>API keys; when empty the API is open and every session belongs to "anonymous".</summary>
    public List<string> ApiKeys { get; init; } = [];

    public BackendLimits Limits { get; init; } = new();

    /// <summary>Remote nodes (<c>mmf node</c>, http(s) URLs) whose devices this silo fronts beside its own, each serving one of <see cref="Models"/>; connected at start-up, where one that does not answer stops the start.</summary>
    public List<string> Nodes { get; init; } = [];

    /// <summary>The bearer token sent to every node in <see cref="Nodes"/>; null: none.</summary>
    public string? NodeToken { get; init; }

    /// <summary>Serve only through <see cref="Nodes"/>: no device in this process (the models are still loaded, for tokenizing and to check what each node serves).</summary>
    public bool NoLocal { get; init; }

    /// <summary>Engine threads per backend; 0: the engine's default (both cores here).</summary>
    public int EngineThreads { get; init; }

    public int MaxPromptTokens { get; init; } = 8192;
    public int MaxNewTokens { get; init; } = 4096;

    /// <summary>Where models pulled from a store are kept: the user's cache directory (not a shared /tmp), owner-only.</summary>
    public string ModelCache { get; init; } = Storage.ModelCache.DefaultRoot;

    /// <summary>Further silo configuration (other grains, providers) applied after the serving setup.</summary>
    public List<Action<ISiloBuilder>> ConfigureSilo { get; init; } = [];

    public static SiloSettings FromConfiguration(IConfiguration c)
    {
        static List<string> List(string? text) => (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var limits = new BackendLimits();
        return new SiloSettings
        {
            Models = List(c["Models"] ?? c["Model"]),
            ModelStore = c["ModelStore"],
            StorageConnectionString = c["StorageConnectionString"],
            ClusteringConnectionString = c["ClusteringConnectionString"],
            ClusterId = c["ClusterId"] ?? "mmf",
            ServiceId = c["ServiceId"] ?? "mmf",
            SiloPort = Int(c, "SiloPort", 11111),
            GatewayPort = Int(c, "GatewayPort", 30000),
            HttpUrl = c["HttpUrl"],
            ApiKeys = List(c["ApiKeys"]),
            Nodes = List(c["Nodes"] ?? c["Node"]),
            NodeToken = c["NodeToken"],
            NoLocal = Bool(c, "NoLocal"),
            Limits = new BackendLimits(Int(c, "MaxBatch", limits.MaxBatch), Int(c, "MaxQueue", limits.MaxQueue), Int(c, "MaxCachedStates", limits.MaxCachedStates)),
            EngineThreads = Int(c, "EngineThreads", 0),
            MaxPromptTokens = Int(c, "MaxPromptTokens", 8192),
            MaxNewTokens = Int(c, "MaxNewTokens", 4096),
            ModelCache = c["ModelCache"] ?? Storage.ModelCache.DefaultRoot,
        };
    }

    private static bool Bool(IConfiguration c, string key) =>
        c[key] is not { } text ? false
        : bool.TryParse(text, out bool value) ? value
        : throw new Core.MatMulFreeException($"setting {key} must be true or false, got '{text}'");

    private static int Int(IConfiguration c, string key, int fallback) =>
        c[key] is not { } text ? fallback
        : int.TryParse(text, out int value) ? value
        : throw new Core.MatMulFreeException($"setting {key} must be an integer, got '{text}'");
}
