using MatMulFree.Core;
using MatMulFree.Core.SafeTensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// Moves a <see cref="MatMulFreeLM"/>'s parameters to and from Hugging Face checkpoints, by the
/// names of <see cref="ParameterNames"/>: what we save loads in the authors' code and their
/// released bf16 checkpoints load here.
/// </summary>
public static class ModelCheckpoint
{
    public const string ConfigFileName = "config.json";

    /// <summary>A model of <paramref name="config"/> with the weights of <paramref name="source"/>.</summary>
    public static MatMulFreeLM Load(ModelConfig config, ITensorSource source, BitLinearMode mode = BitLinearMode.Recompute)
    {
        var model = new MatMulFreeLM(config, mode);
        try
        {
            LoadInto(model, source);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A model of a Hugging Face folder (config.json + model.safetensors or shards).</summary>
    public static MatMulFreeLM Load(ModelFolder folder, BitLinearMode mode = BitLinearMode.Recompute) =>
        Load(folder.Config, folder.Weights, mode);

    /// <summary>
    /// Copies every parameter from <paramref name="source"/>. Each tensor is read with its expected
    /// shape first, so a missing or misshapen tensor fails in Core with the file and tensor named.
    /// </summary>
    public static void LoadInto(MatMulFreeLM model, ITensorSource source)
    {
        Dictionary<string, Parameter> parameters = ParametersByName(model);
        using var noGrad = no_grad();
        foreach (var (name, shape) in ParameterNames.All(model.Config))
        {
            float[] values = source.ReadFloat32(name, shape);
            using var loaded = tensor(values, shape);
            parameters[name].copy_(loaded);
        }
    }

    /// <summary>
    /// Writes <c>model.safetensors</c> (F32 or BF16, rounded to nearest even) and <c>config.json</c>
    /// into <paramref name="directory"/>.
    /// </summary>
    public static void Save(MatMulFreeLM model, string directory, TensorDType dtype = TensorDType.F32)
    {
        if (dtype is not (TensorDType.F32 or TensorDType.BF16))
            throw new ArgumentException($"weights are saved as F32 or BF16, not {dtype}", nameof(dtype));
        if (model.IsPreparedForInference)
            throw new InvalidOperationException("a model prepared for inference holds ternary weights, not its latent weights: save it before PrepareForInference");

        Dictionary<string, Parameter> parameters = ParametersByName(model);
        var tensors = new List<TensorToWrite>();
        foreach (var (name, shape) in ParameterNames.All(model.Config))
        {
            using var scope = NewDisposeScope();
            float[] values = parameters[name].detach().contiguous().data<float>().ToArray();
            tensors.Add(dtype == TensorDType.F32
                ? TensorToWrite.Float32(name, shape, values)
                : TensorToWrite.BFloat16(name, shape, values));
        }
        Directory.CreateDirectory(directory);
        SafeTensorsWriter.Write(Path.Combine(directory, SafeTensorsCheckpoint.SingleFileName), tensors,
            new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(directory, ConfigFileName), model.Config.ToJson());
    }

    internal static Dictionary<string, Parameter> ParametersByName(MatMulFreeLM model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
}
