using MatMulFree.Silo.Benchmarks;

namespace MatMulFree.Serving.Tests;

/// <summary>The load test of `mmf bench serve`, small: many sessions over HTTP on loopback, none failing, none mixed with another.</summary>
public sealed class ServingLoadTests
{
    [Fact]
    public async Task ServingLoad_RunHttpAsync_ConcurrentSessionsEachEqualTheirRunAlone()
    {
        var settings = TestModels.TinySettings(maxBatch: 16, maxQueue: 64);
        await using var silo = await HttpSilo.StartAsync(settings);
        using var engine = TestModels.TinyEngine(out var model);
        using var _ = model;

        var report = await ServingLoad.RunHttpAsync(silo.Client, 256, 1, new ServingLoad.Options("tiny", Sessions: 48, Turns: 3, TokensPerTurn: 8), CancellationToken.None);

        Assert.Empty(report.Errors);
        Assert.Equal(48L * 3 * 8, report.Tokens);
        Assert.Empty(ServingLoad.Mismatches(engine, report));
        Assert.True(report.TtftP99 >= report.TtftP50 && report.TokenP99 >= report.TokenP50);
    }
}
