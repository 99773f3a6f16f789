namespace MatMulFree.Engine;

/// <summary>A BitLinear layer in serving form: packed ternary W [out, in] and its own RMSNorm gain γ [in].</summary>
public sealed record BitLinearWeights(PackedTernaryMatrix Weight, float[] NormGain);
