namespace MatMulFree.Engine;

/// <summary>The weights of one block: MLGRU token mixer and GLU channel mixer.</summary>
/// <param name="LowerBound">lb of this layer, precomputed from <c>model.lower_bounds</c>; null for layer 0 or without lower bounds.</param>
public sealed record EngineLayer(
    float[] AttnNorm,
    BitLinearWeights I, BitLinearWeights F, BitLinearWeights G, BitLinearWeights O,
    float[] GNorm, float[]? LowerBound,
    float[] MlpNorm,
    BitLinearWeights GateUp, BitLinearWeights Down);
