using MatMulFree.Core;

namespace MatMulFree.Training.Tests;

public sealed class LearningRateScheduleTests
{
    private static readonly LearningRateSchedule Schedule = new(PeakRate: 4e-3, WarmupSteps: 10, TotalSteps: 110, MinRatio: 0.1);

    [Fact]
    public void LearningRateSchedule_RateAt_RisesLinearlyDuringWarmup()
    {
        Assert.Equal(4e-4, Schedule.RateAt(1), 12);
        Assert.Equal(2e-3, Schedule.RateAt(5), 12);
        Assert.Equal(4e-3, Schedule.RateAt(10), 12);
    }

    [Fact]
    public void LearningRateSchedule_RateAt_FollowsCosineThenHalvesAfterMidpoint()
    {
        // Step 55 is the midpoint: the cosine is at (55-10)/100 of its decay, not halved yet.
        double cosine55 = 4e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.45)));
        Assert.Equal(cosine55, Schedule.RateAt(55), 12);
        double cosine56 = 4e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.46)));
        Assert.Equal(cosine56 / 2, Schedule.RateAt(56), 12);
        Assert.Equal(4e-4 / 2, Schedule.RateAt(110), 12);
    }

    [Fact]
    public void LearningRateSchedule_RateAt_NeverIncreasesAfterWarmup()
    {
        for (long step = 11; step < 110; step++)
            Assert.True(Schedule.RateAt(step + 1) <= Schedule.RateAt(step), $"rate rose at step {step + 1}");
    }

    [Theory]
    [InlineData("370m", 4e-3)]
    [InlineData("1.3b", 2.5e-3)]
    [InlineData("2.7b", 1.5e-3)]
    [InlineData("tiny", 4e-3)]
    public void LearningRateSchedule_PaperPeakRate_MatchesThePaper(string preset, double expected) =>
        Assert.Equal(expected, LearningRateSchedule.PaperPeakRate(ModelConfig.Preset(preset)));

    [Fact]
    public void LearningRateSchedule_Validate_NamesTheFlag()
    {
        var error = Assert.Throws<TrainingException>(() => (Schedule with { PeakRate = -1 }).Validate());
        Assert.Contains("--lr", error.Message);
    }
}
