namespace MatMulFree.Core;

/// <summary>Mean next-token negative log-likelihood over <paramref name="Tokens"/> predicted tokens.</summary>
public sealed record ScoreResult(double Loss, long Tokens)
{
    public double Perplexity => Math.Exp(Loss);
}
