namespace MatMulFree.Model;

/// <summary>How BitLinear layers run their backward pass; both give the same gradients.</summary>
public enum BitLinearMode
{
    /// <summary>Save only the layer input; recompute norm and quantization in backward (the paper's fused kernel).</summary>
    Recompute,

    /// <summary>Ordinary autograd with straight-through detach tricks: keeps the normalised and quantised activations.</summary>
    Plain,
}
