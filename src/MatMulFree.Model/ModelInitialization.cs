using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// The initialisation of the authors' released training code, seeded so a run can be repeated:
/// normal(0, 0.02) for embeddings and ternary weights; o_proj and down_proj further divided by
/// sqrt(2L) (they write into the residual stream, once per sub-layer); the token mixer's i/f/g
/// projections Xavier-uniform with gain 2^−2.5; lower bounds zero; norm gains one.
/// </summary>
public static class ModelInitialization
{
    public const double Std = 0.02;
    public static readonly double MixerGain = Math.Pow(2, -2.5);

    public static MatMulFreeLM CreateRandom(MatMulFree.Core.ModelConfig config, int seed, BitLinearMode mode = BitLinearMode.Recompute)
    {
        var model = new MatMulFreeLM(config, mode);
        Initialize(model, seed);
        return model;
    }

    // TorchSharp 0.107's nn.init.normal_/uniform_/xavier_uniform_ ignore (or lack) a generator, so
    // they would draw from the global RNG; the tensor methods honour it.
    public static void Initialize(MatMulFreeLM model, int seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        double residualStd = Std / Math.Sqrt(2.0 * model.Config.NumHiddenLayers);
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.EndsWith("attn.i_proj.weight") || name.EndsWith("attn.f_proj.weight") || name.EndsWith("attn.g_proj.weight"))
            {
                double bound = MixerGain * Math.Sqrt(6.0 / (parameter.shape[0] + parameter.shape[1])); // Xavier-uniform
                parameter.uniform_(-bound, bound, generator);
            }
            else if (name.EndsWith("attn.o_proj.weight") || name.EndsWith("mlp.down_proj.weight"))
                parameter.normal_(0, residualStd, generator);
            else if (name.EndsWith("norm.weight"))
                parameter.fill_(TorchScalars.One);
            else if (name == MatMulFree.Core.ParameterNames.LowerBounds)
                parameter.fill_(TorchScalars.Zero); // zero_() of TorchSharp 0.107 leaves a wrapper to the finalizer
            else // embeddings, gate_proj, lm_head
                parameter.normal_(0, Std, generator);
        }
    }
}
