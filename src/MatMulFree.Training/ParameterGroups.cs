using MatMulFree.Core;

namespace MatMulFree.Training;

/// <summary>
/// Which parameters AdamW decays. Norm gains, the forget-gate lower bounds and the embeddings are
/// not decayed: shrinking a gain or a bound toward zero changes what the layer computes rather than
/// regularising it, and an embedding row only gets gradient when its token appears, so decay would
/// erase rare tokens. Every ternary (BitLinear) weight matrix, the LM head's included, is decayed.
/// </summary>
public static class ParameterGroups
{
    public static bool IsDecayed(string name) =>
        name != ParameterNames.Embeddings
        && name != ParameterNames.LowerBounds
        && !name.EndsWith("norm.weight", StringComparison.Ordinal);
}
