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
    /// A folder (converted model.mmfserve first, else the checkpoint, converted now), a store URI
    /// (served from a copy in <paramref name="cacheRoot"/>, checked against its manifest), or random:PRESET.
    /// </summary>
    public static ServedModel Load(string source, string cacheRoot, Action<string>? notice = null)
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
        string folder = modelFolder ? source : Pull(source, cacheRoot, notice);
        string name = modelFolder ? new DirectoryInfo(source).Name : StoreModelName(source);
        string serving = Path.Combine(folder, ServingFile.FileName);
        if (File.Exists(serving))
        {
            var model = ServingFile.Open(serving);
            return new ServedModel(name, source, model.Config, TokenizerLoader.ForModel(folder, model.Config, notice), model);
        }
        using var checkpoint = ModelFolder.Open(folder, notice);
        return new ServedModel(name, source, checkpoint.Config, checkpoint.Tokenizer, ServingConverter.FromCheckpoint(checkpoint.Weights, checkpoint.Config, folder));
    }

    private static string Pull(string source, string cacheRoot, Action<string>? notice)
    {
        var location = StoreLocation.Parse(source);
        var parts = location.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is < 2 or > 3 || parts[0] != StoreLayout.Models)
            throw new MatMulFreeException(Directory.Exists(source)
                ? $"--model {source}: the folder has no {ModelFolder.ConfigFileName} or {ServingFile.FileName}, and is not a store's …/models/NAME[/VERSION]"
                : $"--model {source}: not a folder, and not a store URI of the form …/models/NAME[/VERSION]");
        var store = new ModelStore(location.Open());
        var version = store.ResolveAsync(parts[1], parts.Length == 3 ? parts[2] : null).GetAwaiter().GetResult();
        return new ModelCache(cacheRoot).ResolveAsync(store, version, notice).GetAwaiter().GetResult();
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

    private static string StoreModelName(string source) => StoreLocation.Parse(source).Path.Split('/')[1];

    public void Dispose() => Engine.Dispose();
}
