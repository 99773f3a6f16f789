using MatMulFree.Grains.Serving;

namespace MatMulFree.Serving.Tests;

/// <summary>Session grains over the real CPU engine and the golden tiny model, in one in-process silo.</summary>
public sealed class SessionGrainTests() : TinyClusterTest(silos: 1)
{
    private static readonly SamplingSettings Sampled = new(Temperature: 0.9f, TopK: 40, TopP: 0.95f, Seed: 7);

    [Fact]
    public async Task SessionGrain_TurnAsync_StreamsTokensAndPersistsStateAfterEachTurn()
    {
        var session = await Cluster.CreateSessionAsync("s-persist", Sampled);
        int[] first = await ServingCluster.TurnAsync(session, [1, 72, 105], 6);
        var afterFirst = (await session.GetAsync())!;
        int[] second = await ServingCluster.TurnAsync(session, [33], 5);
        var afterSecond = (await session.GetAsync())!;

        Assert.InRange(first.Length, 1, 6);
        Assert.Equal(1, afterFirst.Turns);
        Assert.Equal(2, afterSecond.Turns);
        // The state is the engine's serialized form: header + L·d floats + checksum, whatever the length.
        Assert.Equal(Engine.CreateState().Serialize().Length, afterFirst.StateBytes);
        Assert.Equal(3 + first.Length, afterFirst.Tokens);
        Assert.Equal(afterFirst.Tokens + 1 + second.Length, afterSecond.Tokens);
    }

    [Fact]
    public async Task SessionGrain_TurnAsync_EqualsTheEngineRunAlone()
    {
        (int[], int)[] turns = [([1, 84, 104, 101], 12), ([32, 97], 9), ([10], 7)];
        var session = await Cluster.CreateSessionAsync("s-oracle", Sampled);
        var served = new List<int[]>();
        foreach (var (message, max) in turns)
            served.Add(await ServingCluster.TurnAsync(session, message, max));

        var alone = TestModels.RunAlone(Engine, Sampled, turns);
        Assert.Equal(alone, served);
    }

    [Fact]
    public async Task SessionGrain_TurnAsync_CancelledTurnLeavesTheLastCompletedState()
    {
        var session = await Cluster.CreateSessionAsync("s-cancel", Sampled);
        var twin = await Cluster.CreateSessionAsync("s-cancel-twin", Sampled);
        await ServingCluster.TurnAsync(session, [1, 65], 4);
        await ServingCluster.TurnAsync(twin, [1, 65], 4);
        var before = (await session.GetAsync())!;

        using var cancel = new CancellationTokenSource();
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in session.TurnAsync(new TurnInput([66, 67], 100_000, StopAtEos: false), cancel.Token))
                if (++received == 3)
                    cancel.Cancel();
        });

        var after = (await session.GetAsync())!;
        Assert.Equal(before.Turns, after.Turns);
        Assert.Equal(before.Tokens, after.Tokens);
        // The next turn continues from the state before the cancelled one: exactly what the twin does.
        Assert.Equal(await ServingCluster.TurnAsync(twin, [68], 8), await ServingCluster.TurnAsync(session, [68], 8));
    }

    [Fact]
    public async Task SessionGrain_TurnAsync_ConcurrentSessionsAreBatchedAndEachEqualsItsRunAlone()
    {
        const int sessions = 24;
        var settings = Enumerable.Range(0, sessions).Select(i => Sampled with { Seed = (ulong)i }).ToArray();
        var prompts = Enumerable.Range(0, sessions).Select(i => new[] { 1, 65 + i % 26, 97 + i % 13 }).ToArray();
        var grains = await Task.WhenAll(Enumerable.Range(0, sessions).Select(i => Cluster.CreateSessionAsync($"s-batch-{i}", settings[i])));
        var backend = Cluster.Backends.Single();
        long stepsBefore = backend.Steps, rowsBefore = backend.StepRows;

        var served = await Task.WhenAll(Enumerable.Range(0, sessions).Select(i => ServingCluster.TurnAsync(grains[i], prompts[i], 40)));

        for (int i = 0; i < sessions; i++)
            Assert.Equal(TestModels.RunAlone(Engine, settings[i], [(prompts[i], 40)])[0], served[i]);
        double meanBatch = (backend.StepRows - rowsBefore) / (double)(backend.Steps - stepsBefore);
        Assert.True(backend.LargestBatch > 1 && meanBatch > 2, $"turns were not batched: largest batch {backend.LargestBatch}, mean {meanBatch:F2}");
    }

    [Fact]
    public async Task SessionGrain_TurnAsync_RejectsAConcurrentTurnOfTheSameSession()
    {
        var session = await Cluster.CreateSessionAsync("s-busy", Sampled);
        await using var running = session.TurnAsync(new TurnInput([1, 70], 100_000, StopAtEos: false)).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync());

        var error = await Assert.ThrowsAsync<SessionConflictException>(() => ServingCluster.TurnAsync(session, [71], 3));
        Assert.Contains("already running a turn", error.Message);
    }

    [Fact]
    public async Task SessionGrain_TurnAsync_UnknownSessionAndBadInputAreClearErrors()
    {
        await Assert.ThrowsAsync<SessionNotFoundException>(() => ServingCluster.TurnAsync(Cluster.Grains.GetGrain<ISessionGrain>("s-missing"), [1], 3));
        var session = await Cluster.CreateSessionAsync("s-bad", Sampled);
        var outOfRange = await Assert.ThrowsAsync<ServingRequestException>(() => ServingCluster.TurnAsync(session, [1, 9999], 3));
        Assert.Contains("9999", outOfRange.Message);
        await Assert.ThrowsAsync<ServingRequestException>(() => ServingCluster.TurnAsync(session, [], 3));
        await Assert.ThrowsAsync<SessionConflictException>(() => session.CreateAsync(new SessionSpec("tiny", "test", Sampled)));
    }
}
