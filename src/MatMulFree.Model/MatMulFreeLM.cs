using MatMulFree.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace MatMulFree.Model;

// The MatMul-free language model (Zhu et al. 2024) as the released hgrn_bit checkpoints compute
// it; docs/model-spec.md, top to bottom. Field names are the Hugging Face parameter names, so
// named_parameters() yields exactly the checkpoint's tensor names.
#pragma warning disable IDE1006 // snake_case fields: they are the checkpoint's names

/// <summary>x / sqrt(mean(x²) + eps) ⊙ γ over the last dimension.</summary>
public sealed class RMSNorm : Module<Tensor, Tensor>
{
    private readonly Parameter weight; // (n) γ
    private readonly double eps;

    public RMSNorm(long size, double eps) : base(nameof(RMSNorm))
    {
        // A Parameter takes over its tensor's handle; the emptied wrapper is disposed rather than
        // left to the finalizer, so a training step never shares the finalizer with model code.
        using var initial = ones(size);
        weight = new Parameter(initial);
        this.eps = eps;
        RegisterComponents();
    }

    internal Parameter Gain => weight;

    public override Tensor forward(Tensor x) => Quantizers.RmsNorm(x, weight, eps); // (..., n)
}

/// <summary>
/// A ternary layer: RMSNorm with its own gain, 8-bit absmax activations per token, ternary
/// absmean weights per tensor, then x̃ · W̃ᵀ. Holds fp32 latent weights for training.
/// </summary>
public sealed class BitLinear : Module<Tensor, Tensor>
{
    private readonly Parameter weight; // (out, in) latent weights
    private readonly RMSNorm norm;     // (in)
    private readonly BitLinearMode mode;
    private bool quantizedForInference;

    public BitLinear(long inFeatures, long outFeatures, BitLinearMode mode) : base(nameof(BitLinear))
    {
        using var initial = empty(outFeatures, inFeatures); // its handle moves into the Parameter (see RMSNorm)
        weight = new Parameter(initial);
        norm = new RMSNorm(inFeatures, Quantizers.BitLinearNormEps);
        this.mode = mode;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (quantizedForInference)
        {
            if (is_grad_enabled())
                throw new InvalidOperationException("this model was prepared for inference: its weights are ternary, not latent");
            using var inference = NewDisposeScope();
            var xq = Quantizers.Activations(norm.call(x));            // (..., in)
            return F.linear(xq, weight).MoveToOuterDisposeScope();    // (..., out)
        }
        if (mode == BitLinearMode.Recompute)
            return BitLinearFunction.Apply(x, norm.Gain, weight); // (..., out)

        using var scope = NewDisposeScope();
        var xn = norm.call(x);                                          // (..., in)
        var xStraight = xn.Plus((Quantizers.Activations(xn) - xn).detach());         // (..., in) value x̃, gradient of x̂
        var wStraight = weight.Plus((Quantizers.Weights(weight) - weight).detach()); // (out, in)
        return F.linear(xStraight, wStraight).MoveToOuterDisposeScope(); // (..., out)
    }

    /// <summary>Replaces the latent weights by W̃ once, so inference is a plain fp32 linear.</summary>
    internal void QuantizeWeightsForInference()
    {
        if (quantizedForInference) return;
        using var noGrad = no_grad();
        using var quantized = Quantizers.Weights(weight);
        weight.copy_(quantized);
        quantizedForInference = true;
    }

    internal bool IsQuantizedForInference => quantizedForInference;
}

/// <summary>
/// The MLGRU token mixer: an element-wise gated linear recurrence with O(d·e) state.
/// f = σ(f_proj x), lower-bounded above layer 0; c = SiLU(i_proj x) ⊙ (1 − f);
/// h_t = f_t ⊙ h_{t−1} + c_t; out = o_proj(RMSNorm(g_proj x) ⊙ SiLU(h)).
/// </summary>
public sealed class MLGRU : Module<Tensor, Tensor?, Tensor?, (Tensor Output, Tensor LastState)>
{
    private readonly BitLinear i_proj, f_proj, g_proj, o_proj;
    private readonly RMSNorm g_norm;

    public MLGRU(ModelConfig config, BitLinearMode mode) : base(nameof(MLGRU))
    {
        long d = config.HiddenSize, width = config.MixerWidth;
        i_proj = new BitLinear(d, width, mode);
        f_proj = new BitLinear(d, width, mode);
        g_proj = new BitLinear(d, width, mode);
        g_norm = new RMSNorm(width, config.RmsNormEps);
        o_proj = new BitLinear(width, d, mode);
        RegisterComponents();
    }

    /// <param name="x">(B, T, d), already normalised by attn_norm.</param>
    /// <param name="lowerBound">(d·e) this layer's forget-gate floor, or null (layer 0, or no lower bounds).</param>
    /// <param name="initialState">(B, d·e) h before the first token, or null for zeros.</param>
    public override (Tensor Output, Tensor LastState) forward(Tensor x, Tensor? lowerBound, Tensor? initialState)
    {
        using var scope = NewDisposeScope();
        long steps = x.shape[1];
        var f = sigmoid(f_proj.call(x));                    // (B, T, D)
        if (lowerBound is not null)
            f = lowerBound.Plus(lowerBound.OneMinus() * f); // (B, T, D)
        var c = F.silu(i_proj.call(x)) * f.OneMinus();      // (B, T, D)
        if (initialState is not null)                       // h_0 = f_0 ⊙ h_init + c_0
            c = c.Plus(F.pad(f.narrow(1, 0, 1) * initialState.unsqueeze(1), [0, 0, 0, steps - 1]));
        var h = LinearRecurrence.Apply(f, c);               // (B, T, D)
        var o = g_norm.call(g_proj.call(x)) * F.silu(h);    // (B, T, D)
        var output = o_proj.call(o);                        // (B, T, d)
        var last = h.select(1, steps - 1);                  // (B, D)
        return (output.MoveToOuterDisposeScope(), last.MoveToOuterDisposeScope());
    }
}

/// <summary>The GLU channel mixer: [gate | u] = gate_proj x; out = down_proj(SiLU(gate) ⊙ u).</summary>
public sealed class GLU : Module<Tensor, Tensor>
{
    private readonly BitLinear gate_proj, down_proj;

    public GLU(ModelConfig config, BitLinearMode mode) : base(nameof(GLU))
    {
        gate_proj = new BitLinear(config.HiddenSize, 2L * config.IntermediateSize, mode);
        down_proj = new BitLinear(config.IntermediateSize, config.HiddenSize, mode);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var both = gate_proj.call(x);                  // (B, T, 2l)
        var halves = both.chunk(2, -1);                // 2 × (B, T, l)
        var hidden = F.silu(halves[0]) * halves[1];    // (B, T, l)
        return down_proj.call(hidden).MoveToOuterDisposeScope(); // (B, T, d)
    }
}

/// <summary>r = x + MLGRU(RMSNorm(x)); out = r + GLU(RMSNorm(r)).</summary>
public sealed class MatMulFreeBlock : Module<Tensor, Tensor?, Tensor?, (Tensor Output, Tensor LastState)>
{
    private readonly RMSNorm attn_norm, mlp_norm;
    private readonly MLGRU attn;
    private readonly GLU mlp;

    public MatMulFreeBlock(ModelConfig config, BitLinearMode mode) : base(nameof(MatMulFreeBlock))
    {
        attn_norm = new RMSNorm(config.HiddenSize, config.RmsNormEps);
        attn = new MLGRU(config, mode);
        mlp_norm = new RMSNorm(config.HiddenSize, config.RmsNormEps);
        mlp = new GLU(config, mode);
        RegisterComponents();
    }

    public override (Tensor Output, Tensor LastState) forward(Tensor x, Tensor? lowerBound, Tensor? initialState)
    {
        using var scope = NewDisposeScope();
        var (mixed, last) = attn.call(attn_norm.call(x), lowerBound, initialState); // (B, T, d), (B, D)
        var r = x.Plus(mixed);                                                      // (B, T, d)
        var output = r.Plus(mlp.call(mlp_norm.call(r)));                            // (B, T, d)
        return (output.MoveToOuterDisposeScope(), last.MoveToOuterDisposeScope());
    }
}

/// <summary>Embeddings, the blocks and the final norm (Hugging Face's <c>model.*</c>).</summary>
public sealed class MatMulFreeBackbone : Module<Tensor, Tensor>
{
    private readonly Embedding embeddings;
    private readonly Parameter? lower_bounds; // (L, d)
    private readonly ModuleList<MatMulFreeBlock> layers;
    private readonly RMSNorm norm;

    public MatMulFreeBackbone(ModelConfig config, BitLinearMode mode) : base(nameof(MatMulFreeBackbone))
    {
        embeddings = Embedding(config.VocabSize, config.HiddenSize);
        if (config.UseLowerBound)
        {
            using var initial = zeros(config.NumHiddenLayers, config.HiddenSize); // its handle moves into the Parameter (see RMSNorm)
            lower_bounds = new Parameter(initial);
        }
        layers = new ModuleList<MatMulFreeBlock>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new MatMulFreeBlock(config, mode)).ToArray());
        norm = new RMSNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids) => Forward(ids, null, null);

    /// <param name="ids">(B, T) token ids.</param>
    /// <param name="state">When given: h before the first token, replaced by h after the last.</param>
    /// <param name="hiddenStates">When given, receives the input of every block, then the final norm's output.</param>
    /// <returns>(B, T, d), the final norm's output.</returns>
    public Tensor Forward(Tensor ids, TorchRecurrentState? state, List<Tensor>? hiddenStates)
    {
        using var scope = NewDisposeScope();
        var x = embeddings.call(ids); // (B, T, d)
        Tensor? floors = null;        // (L, d)
        if (lower_bounds is not null)
        {
            // Per channel, a softmax over the layers, accumulated: deeper layers forget less.
            var p = softmax(lower_bounds, 0);     // (L, d)
            floors = p.cumsum(0) - p[0];          // (L, d); row 0 is all zeros and unused
        }
        for (int i = 0; i < layers.Count; i++)
        {
            hiddenStates?.Add(x);
            Tensor? floor = i > 0 ? floors?[i] : null;                   // (d)
            var (next, last) = layers[i].call(x, floor, state?[i]);     // (B, T, d), (B, D)
            state?.Replace(i, last);
            last.Dispose();
            // Our handle only: autograd keeps what backward needs. Inference then holds one block's
            // activations at a time instead of every block's until the end of the pass.
            if (hiddenStates is null) x.Dispose();
            x = next;
        }
        var output = norm.call(x); // (B, T, d)
        hiddenStates?.Add(output);
        if (hiddenStates is not null)
            foreach (Tensor t in hiddenStates) t.MoveToOuterDisposeScope();
        return output.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The whole causal language model: backbone, then a ternary LM head. Forward over a sequence
/// runs the recurrence as a parallel scan; <see cref="Step"/> runs one token with an explicit state.
/// </summary>
public sealed class MatMulFreeLM : Module<Tensor, Tensor>
{
    private readonly MatMulFreeBackbone model;
    private readonly BitLinear lm_head;

    public MatMulFreeLM(ModelConfig config, BitLinearMode mode = BitLinearMode.Recompute) : base(nameof(MatMulFreeLM))
    {
        Config = config;
        Mode = mode;
        model = new MatMulFreeBackbone(config, mode);
        lm_head = new BitLinear(config.HiddenSize, config.VocabSize, mode);
        RegisterComponents();
    }

    public ModelConfig Config { get; }
    public BitLinearMode Mode { get; }

    /// <summary>(B, T) ids → (B, T, V) logits.</summary>
    public override Tensor forward(Tensor ids) => Forward(ids, null, null);

    /// <inheritdoc cref="MatMulFreeBackbone.Forward"/>
    /// <returns>(B, T, V) logits.</returns>
    public Tensor Forward(Tensor ids, TorchRecurrentState? state, List<Tensor>? hiddenStates)
    {
        var normed = model.Forward(ids, state, hiddenStates); // (B, T, d)
        var logits = lm_head.call(normed);                    // (B, T, V)
        if (hiddenStates is null) normed.Dispose();           // otherwise it is the caller's last hidden state
        return logits;
    }

    /// <summary>One token per row: (B) ids → (B, V) logits, advancing <paramref name="state"/>.</summary>
    public Tensor Step(Tensor ids, TorchRecurrentState state)
    {
        using var sequence = ids.unsqueeze(1);                 // (B, 1)
        using var logits = Forward(sequence, state, null);    // (B, 1, V)
        return logits.squeeze(1);                              // (B, V)
    }

    /// <summary>Mean cross-entropy of logits[:, t] against ids[:, t+1] over all B·(T−1) predicted tokens.</summary>
    public static Tensor NextTokenLoss(Tensor logits, Tensor ids)
    {
        using var scope = NewDisposeScope();
        long steps = ids.shape[1], vocab = logits.shape[2];
        var predicted = logits.narrow(1, 0, steps - 1).reshape(-1, vocab); // (B·(T−1), V)
        var targets = ids.narrow(1, 1, steps - 1).reshape(-1);             // (B·(T−1))
        return F.cross_entropy(predicted, targets).MoveToOuterDisposeScope(); // ()
    }

    /// <summary>Forward and <see cref="NextTokenLoss"/> in one call.</summary>
    public Tensor Loss(Tensor ids)
    {
        using var logits = forward(ids); // (B, T, V)
        return NextTokenLoss(logits, ids);
    }

    /// <summary>
    /// Irreversibly replaces every latent weight by its ternary value W̃ (kept in fp32), so that
    /// inference is a plain linear that reads the weights once. Training and saving are refused after.
    /// </summary>
    public void PrepareForInference()
    {
        foreach (BitLinear layer in modules().OfType<BitLinear>())
            layer.QuantizeWeightsForInference();
    }

    public bool IsPreparedForInference => lm_head.IsQuantizedForInference;
}
