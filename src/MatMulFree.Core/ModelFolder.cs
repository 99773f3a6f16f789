using MatMulFree.Core.SafeTensors;
using MatMulFree.Core.Tokenization;

namespace MatMulFree.Core;

/// <summary>
/// A Hugging Face model folder: <c>config.json</c>, <c>model.safetensors</c> (or shards), and
/// optionally a tokenizer. Opening it validates all three, so a bad folder fails at once.
/// </summary>
public sealed class ModelFolder : IDisposable
{
    public const string ConfigFileName = "config.json";

    private ModelFolder(string directory, ModelConfig config, SafeTensorsCheckpoint weights, ITextTokenizer tokenizer)
    {
        Directory = directory;
        Config = config;
        Weights = weights;
        Tokenizer = tokenizer;
    }

    public string Directory { get; }
    public ModelConfig Config { get; }
    public SafeTensorsCheckpoint Weights { get; }
    public ITextTokenizer Tokenizer { get; }

    /// <param name="notice">Told about choices the user should know of (e.g. the byte-level fallback).</param>
    public static ModelFolder Open(string directory, Action<string>? notice = null)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new MatMulFreeException($"{directory}: model folder not found");
        ModelConfig config = ModelConfig.Load(Path.Combine(directory, ConfigFileName));
        ITextTokenizer tokenizer = TokenizerLoader.ForModel(directory, config, notice);
        SafeTensorsCheckpoint weights = SafeTensorsCheckpoint.Open(directory);
        try
        {
            foreach (var (name, shape) in ParameterNames.All(config))
            {
                if (!weights.Contains(name))
                    throw new SafeTensorsException($"{directory}: checkpoint has no tensor '{name}' (expected {TensorEntry.ShapeToText(shape)})");
                TensorEntry entry = weights.Entry(name);
                if (!entry.Shape.AsSpan().SequenceEqual(shape))
                    throw new SafeTensorsException(
                        $"{directory}: tensor '{name}' has shape {entry.ShapeText}, the config implies {TensorEntry.ShapeToText(shape)}");
                if (entry.DType is not (TensorDType.F32 or TensorDType.BF16 or TensorDType.F16))
                    throw new SafeTensorsException($"{directory}: tensor '{name}' is {entry.DType}, expected F32, BF16 or F16");
            }
        }
        catch
        {
            weights.Dispose();
            throw;
        }
        return new ModelFolder(directory, config, weights, tokenizer);
    }

    /// <summary>
    /// The first parameter that holds a NaN or an infinity, and that element's index; null when every
    /// weight is finite. A full pass over the weights: for explaining a non-finite result, not for every load.
    /// </summary>
    public (string Tensor, long Index)? FindNonFiniteWeight()
    {
        foreach (var (name, shape) in ParameterNames.All(Config))
        {
            int index = Array.FindIndex(Weights.ReadFloat32(name, shape), v => !float.IsFinite(v));
            if (index >= 0) return (name, index);
        }
        return null;
    }

    public void Dispose() => Weights.Dispose();
}
