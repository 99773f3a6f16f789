namespace MatMulFree.Training;

/// <summary>
/// AdamW's constants. The paper does not state them; these are the usual ones for language models
/// (β₂ 0.95 rather than 0.999 keeps the second moment responsive to the loss spikes of early training).
/// </summary>
public sealed record AdamWSettings(double Beta1 = 0.9, double Beta2 = 0.95, double Epsilon = 1e-8, double WeightDecay = 0.1);
