using MatMulFree.Core;
using MatMulFree.Core.Tokenization;
using MatMulFree.Engine;
using MatMulFree.Storage;

namespace MatMulFree.Silo;

/// <summary>A model this silo serves: its name, config, tokenizer (for the HTTP API) and weights in serving form.</summary>
public sealed class ServedModel(string name, string source, ModelConfig config, ITextTokenizer tokenizer, EngineModel engine) : IDisposable
{
    public const string RandomPrefix = "random:";

    public string Name { get; } = name;
    public string Source { get; } = source;
    public ModelConfig Config { get; } = config;
    public ITextTokenizer Tokenizer { get; } = tokenizer;
    public EngineModel Engine { get; } = engine;

    /// <summary>
    /// A folder (converted model.mmfserve first, else the checkpoint, converted now), a store URI or
    /// a path inside <paramref name="store"/> (…/models/NAME[/VERSION], or a training run's checkpoint
    /// …/runs/RUN[/checkpoints/STEP]; served from a copy in <paramref name="cacheRoot"/>, checked
    /// against its manifest), or random:PRESET.
    /// </summary>
    public static ServedModel Load(string source, string cacheRoot, Action<string>? notice = null, string? store = null)
    {
        if (source.StartsWith(RandomPrefix, StringComparison.Ordinal))
        {
            string preset = source[RandomPrefix.Length..];
            var shape = ModelConfig.Preset(preset);
            return new ServedModel($"random-{preset}", source, shape, new ByteTokenizer(shape.VocabSize, shape.BosTokenId, shape.EosTokenId), ServingConverter.Random(shape, seed: 1));
        }
        // A local folder store's …/models/NAME is a folder too, but holds versions, not a model; its
        // …/models/NAME/VERSION looks like a model folder, but is the store's and is read through it (checked).
        bool modelFolder = Directory.Exists(source) && !IsStoreVersion(source)
            && (File.Exists(Path.Combine(source, ModelFolder.ConfigFileName)) || File.Exists(Path.Combine(source, ServingFile.FileName)));
        // An existing folder is a local store's path as it was typed; anything else may be a path inside --store.
        var location = modelFolder ? null : Directory.Exists(source) ? StoreLocation.Parse(source) : StoreLocation.Resolve(source, store);
        string folder = location is null ? source : Pull(source, location, cacheRoot, notice);
        string name = location is null ? new DirectoryInfo(source).Name : location.Path.Split('/')[1];
        string serving = Path.Combine(folder, ServingFile.FileName);
        if (File.Exists(serving))
        {
            var model = ServingFile.Open(serving);
            return new ServedModel(name, source, model.Config, TokenizerLoader.ForModel(folder, model.Config, notice), model);
        }
        using var checkpoint = ModelFolder.Open(folder, notice);
        return new ServedModel(name, source, checkpoint.Config, checkpoint.Tokenizer, ServingConverter.FromCheckpoint(checkpoint.Weights, checkpoint.Config, folder));
    }

    private static string Pull(string source, StoreLocation location, string cacheRoot, Action<string>? notice)
    {
        var parts = location.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts is [StoreLayout.Runs, _] or [StoreLayout.Runs, _, "checkpoints", _])
            return PullCheckpoint(location, parts[1], parts.Length == 4 ? parts[3] : null, cacheRoot, notice);
        if (parts.Length is < 2 or > 3 || parts[0] != StoreLayout.Models)
            throw new MatMulFreeException(Directory.Exists(source)
                ? $"--model {source}: the folder has no {ModelFolder.ConfigFileName} or {ServingFile.FileName}, and is not a store's …/models/NAME[/VERSION] or …/runs/RUN"
                : $"--model {source}: not a folder, and not a store path of the form …/models/NAME[/VERSION] or …/runs/RUN[/checkpoints/STEP]");
        var store = new ModelStore(location.Open());
        var version = store.ResolveAsync(parts[1], parts.Length == 3 ? parts[2] : null).GetAwaiter().GetResult();
        return new ModelCache(cacheRoot).ResolveAsync(store, version, notice).GetAwaiter().GetResult();
    }

    /// <summary>
    /// A training run's checkpoint (default: its latest) holds config.json and model.safetensors, a
    /// Hugging Face folder. It is a snapshot like a model version (files under a manifest), so it is
    /// cached the same way, under a name of its own.
    /// </summary>
    private static string PullCheckpoint(StoreLocation location, string run, string? stepText, string cacheRoot, Action<string>? notice)
    {
        long? step = stepText is null ? null
            : long.TryParse(stepText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long s) ? s
            : throw new MatMulFreeException($"--model {location}: checkpoint step '{stepText}' is not a step number");
        var blobs = location.Open();
        var checkpoint = new CheckpointStore(blobs).ResolveAsync(run, step).GetAwaiter().GetResult();
        var snapshot = new ModelVersion($"run-{run}", checkpoint.Step.ToString(System.Globalization.CultureInfo.InvariantCulture), checkpoint.Prefix, checkpoint.Manifest);
        return new ModelCache(cacheRoot).ResolveAsync(new ModelStore(blobs), snapshot, notice).GetAwaiter().GetResult();
    }

    private static bool IsStoreVersion(string folder)
    {
        // A push writes the claim first and the manifest last: either marks the folder as the store's.
        if (!File.Exists(Path.Combine(folder, StoreLayout.ManifestFile)) && !File.Exists(Path.Combine(folder, StoreLayout.ClaimFile))) return false;
        try
        {
            return StoreLocation.Parse(folder).Path.Split('/') is [StoreLayout.Models, var name, var version]
                && StoreLayout.ModelVersion(name, version).Length > 0;
        }
        catch (StoreLocationException)
        {
            return false; // a path no store could have: a plain folder
        }
    }

    public void Dispose() => Engine.Dispose();
}
