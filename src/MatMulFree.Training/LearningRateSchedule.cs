using MatMulFree.Core;

namespace MatMulFree.Training;

/// <summary>
/// Linear warmup to the peak rate, then cosine decay to <see cref="MinRatio"/> of it, with the
/// paper's halving: from the midpoint of training on, the rate is half of what the cosine gives
/// (Zhu et al. 2024, §4: "the learning rate is halved at the midpoint"). Steps count from 1.
/// </summary>
public sealed record LearningRateSchedule(double PeakRate, long WarmupSteps, long TotalSteps, double MinRatio = 0.1)
{
    /// <summary>
    /// The paper's peak rates: 4e-3 for 370M, 2.5e-3 for 1.3B, 1.5e-3 for 2.7B — about ten times a
    /// Transformer's, because ternary weights need larger updates. Smaller models take the 370M rate.
    /// </summary>
    public static double PaperPeakRate(ModelConfig config) => config.HiddenSize switch
    {
        <= 1024 => 4e-3,
        <= 2048 => 2.5e-3,
        _ => 1.5e-3,
    };

    /// <summary>Warmup of 1 % of training, at least one step and at most 2,000 (the usual choice; the paper does not say).</summary>
    public static long DefaultWarmup(long totalSteps) => Math.Clamp(totalSteps / 100, 1, 2000);

    public void Validate()
    {
        if (!(PeakRate > 0) || double.IsInfinity(PeakRate)) throw new TrainingException($"--lr must be a positive number, got {PeakRate}");
        if (TotalSteps < 1) throw new TrainingException($"--steps must be at least 1, got {TotalSteps}");
        if (WarmupSteps < 0 || WarmupSteps > TotalSteps) throw new TrainingException($"--warmup must be between 0 and --steps ({TotalSteps}), got {WarmupSteps}");
        if (MinRatio is < 0 or > 1) throw new TrainingException($"the minimum learning-rate ratio must be in [0, 1], got {MinRatio}");
    }

    /// <summary>The rate used by optimizer step <paramref name="step"/> (1-based).</summary>
    public double RateAt(long step)
    {
        if (step < 1) step = 1;
        if (step <= WarmupSteps) return PeakRate * step / WarmupSteps;
        long decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / decaySteps);
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        double rate = PeakRate * (MinRatio + (1 - MinRatio) * cosine);
        return step > TotalSteps / 2 ? rate / 2 : rate;
    }
}
