namespace MatMulFree.Core;

/// <summary>
/// The Hugging Face parameter names of an <c>hgrn_bit</c> model, so that the authors' released
/// checkpoints load unchanged and what we write loads in their code. Matrices are [out, in].
/// </summary>
public static class ParameterNames
{
    public const string Embeddings = "model.embeddings.weight";
    public const string LowerBounds = "model.lower_bounds";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";
    public const string LmHeadNorm = "lm_head.norm.weight";

    /// <summary>The ternary (BitLinear) projections of a block, each with its own <c>.norm.weight</c>.</summary>
    public static readonly string[] BlockProjections =
        ["attn.i_proj", "attn.f_proj", "attn.g_proj", "attn.o_proj", "mlp.gate_proj", "mlp.down_proj"];

    public static string Layer(int index, string suffix) => $"model.layers.{index}.{suffix}";

    /// <summary>Every parameter of the model with its shape, in the order of the spec.</summary>
    public static IEnumerable<(string Name, long[] Shape)> All(ModelConfig c)
    {
        long v = c.VocabSize, d = c.HiddenSize, m = c.MixerWidth, l = c.IntermediateSize;
        yield return (Embeddings, [v, d]);
        if (c.UseLowerBound)
            yield return (LowerBounds, [c.NumHiddenLayers, d]);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            yield return (Layer(i, "attn_norm.weight"), [d]);
            foreach (string p in new[] { "attn.i_proj", "attn.f_proj", "attn.g_proj" })
            {
                yield return (Layer(i, p + ".weight"), [m, d]);
                yield return (Layer(i, p + ".norm.weight"), [d]);
            }
            yield return (Layer(i, "attn.g_norm.weight"), [m]);
            yield return (Layer(i, "attn.o_proj.weight"), [d, m]);
            yield return (Layer(i, "attn.o_proj.norm.weight"), [m]);
            yield return (Layer(i, "mlp_norm.weight"), [d]);
            yield return (Layer(i, "mlp.gate_proj.weight"), [2 * l, d]);
            yield return (Layer(i, "mlp.gate_proj.norm.weight"), [d]);
            yield return (Layer(i, "mlp.down_proj.weight"), [d, l]);
            yield return (Layer(i, "mlp.down_proj.norm.weight"), [l]);
        }
        yield return (FinalNorm, [d]);
        yield return (LmHead, [v, d]);
        yield return (LmHeadNorm, [d]);
    }
}
