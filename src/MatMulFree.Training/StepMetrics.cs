namespace MatMulFree.Training;

/// <summary>What one optimizer step measured: the global mean loss before the update and how long its phases took.</summary>
public sealed record StepMetrics(
    long Step, double Loss, double LearningRate, double GradientNorm, long Tokens, int Workers,
    double ComputeSeconds, double AllReduceSeconds, double StepSeconds, long AllReduceBytes, string ParameterHash);
