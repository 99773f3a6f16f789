using MatMulFree.Engine;
using MatMulFree.Engine.Sampling;

namespace MatMulFree.Serving.Library.Tests;

/// <summary>The batcher over the CPU device: backpressure, the state cache, cancellation, and sampling that does not depend on the batch.</summary>
public sealed class ContinuousBatcherTests : IDisposable
{
    private static readonly SamplingOptions Greedy = new() { Temperature = 0f };
    private readonly EngineModel _model = TinyModel.Load();

    public void Dispose() => _model.Dispose();

    private (ContinuousBatcher Batcher, CpuDevice Device) Batcher(int maxBatch, int maxQueue, int maxCached = 64)
    {
        var device = new CpuDevice(_model, threads: 1, maxBatch: maxBatch, maxSessions: maxCached + maxBatch);
        return (new ContinuousBatcher("tiny", device, new BatcherLimits(maxBatch, maxQueue, maxCached)), device);
    }

    private static BatchTurn Turn(string id, int maxTokens, int version = 0, byte[]? state = null, SamplingOptions? sampling = null, int[]? tokens = null) =>
        new(id, Guid.Empty, version, state, tokens ?? [1, 65], maxTokens, StopAtEos: false, sampling ?? Greedy);

    private static Task<List<BatchTurnEvent>> Run(ContinuousBatcher batcher, BatchTurn turn, CancellationToken cancellationToken = default) =>
        batcher.Submit(turn, cancellationToken).ReadAllAsync(cancellationToken).ToListAsync(cancellationToken).AsTask();

    [Fact]
    public async Task ContinuousBatcher_Submit_RefusesWhenTheQueueIsFullWithARetryableError()
    {
        using var batcher = Batcher(maxBatch: 1, maxQueue: 1).Batcher;
        using var cancel = new CancellationTokenSource();
        var running = batcher.Submit(Turn("a", 1_000_000), cancel.Token);
        await running.ReadAsync(); // "a" holds the only batch slot
        batcher.Submit(Turn("b", 1), cancel.Token); // waits in the queue's only place

        var busy = Assert.Throws<BatcherBusyException>(() => batcher.Submit(Turn("c", 1), cancel.Token));
        Assert.True(busy.RetryAfterSeconds >= 1);
        Assert.Contains("tiny is full", busy.Message);
        cancel.Cancel();
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_AsksForTheStateWhenItsCacheDoesNotHoldIt()
    {
        using var batcher = Batcher(maxBatch: 4, maxQueue: 4).Batcher;
        var events = await Run(batcher, Turn("unknown", 3, version: 5));
        Assert.True(Assert.Single(events).NeedState);
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_ContinuesFromItsCacheAndFromSentStateAlike()
    {
        using var batcher = Batcher(maxBatch: 4, maxQueue: 4).Batcher;
        var first = await Run(batcher, Turn("s", 5));
        byte[] state = first[^1].FinalState!;

        var cached = await Run(batcher, Turn("s", 6, version: 1));
        var sent = await Run(batcher, Turn("other", 6, version: 1, state: state));

        Assert.Equal(cached.Select(e => e.Token), sent.Select(e => e.Token));
        Assert.Equal(cached[^1].FinalState, sent[^1].FinalState);
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_CancelledTurnEndsAndLeavesTheCachedStateAsBefore()
    {
        var (batcher, device) = Batcher(maxBatch: 4, maxQueue: 4);
        using var _ = batcher;
        var first = await Run(batcher, Turn("s", 2));
        var expected = await Run(batcher, Turn("copy", 4, version: 1, state: first[^1].FinalState));
        int held = device.SessionCount;

        using var cancel = new CancellationTokenSource();
        var doomed = batcher.Submit(Turn("s", 1_000_000, version: 1), cancel.Token);
        await doomed.ReadAsync();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await doomed.ReadAllAsync().ToListAsync());

        // The cached state is the one before the cancelled turn, and its working copy left the device.
        var again = await Run(batcher, Turn("s", 4, version: 1));
        Assert.Equal(expected.Select(e => e.Token), again.Select(e => e.Token));
        Assert.Equal(expected[^1].FinalState, again[^1].FinalState);
        Assert.Equal(held, device.SessionCount);
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_EvictedStatesLeaveTheDevice()
    {
        var (batcher, device) = Batcher(maxBatch: 2, maxQueue: 8, maxCached: 2);
        using var _ = batcher;
        for (int i = 0; i < 5; i++)
            await Run(batcher, Turn($"s{i}", 2));

        Assert.Equal(2, device.SessionCount);
        Assert.True(Assert.Single(await Run(batcher, Turn("s0", 2, version: 1))).NeedState);
        Assert.Equal("length", (await Run(batcher, Turn("s4", 2, version: 1)))[^1].FinishReason);
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_SeededTurnDrawsTheEngineAlonesTokensWhateverItsBatch()
    {
        var sampling = new SamplingOptions { Temperature = 1f, TopK = 50, Seed = 7 };
        int[] prompt = [1, 72, 105, 33];
        var oracle = RunAlone(prompt, sampling, turn: 3, maxTokens: 12);

        var (batcher, _) = Batcher(maxBatch: 8, maxQueue: 16);
        using var __ = batcher;
        // Turn 3 of a session whose state is still fresh: the seed is the turn's, the state sent along.
        byte[] fresh = new RecurrentState(_model.Identity, _model.Config.NumHiddenLayers, _model.Config.MixerWidth).Serialize();
        var alone = await Run(batcher, Turn("x", 12, version: 3, state: fresh, sampling: sampling, tokens: prompt));
        var neighbours = Enumerable.Range(0, 5)
            .Select(i => Run(batcher, Turn($"n{i}", 30, sampling: sampling with { Seed = (ulong)i }, tokens: [1, 70 + i])))
            .ToList();
        var batched = await Run(batcher, Turn("y", 12, version: 3, state: fresh, sampling: sampling, tokens: prompt));
        await Task.WhenAll(neighbours);

        Assert.Equal(oracle, alone.Select(e => e.Token));
        Assert.Equal(oracle, batched.Select(e => e.Token));
        Assert.True(batcher.LargestBatch > 1, "the neighbours never shared a step with the turn");
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_LongPromptPrefillsToTheSameTokensAsTheEngineAlone()
    {
        int[] prompt = Enumerable.Range(1, ContinuousBatcher.BatchedPromptTokens + 9).ToArray();
        var oracle = RunAlone(prompt, Greedy, turn: 0, maxTokens: 6);
        using var batcher = Batcher(maxBatch: 4, maxQueue: 4).Batcher;
        var events = await Run(batcher, Turn("long", 6, tokens: prompt));
        Assert.Equal(oracle, events.Select(e => e.Token));
        Assert.Equal(prompt.Length + 5, events[^1].StateTokens);
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_LogprobsAreThoseOfTheDistributionDrawnFrom()
    {
        var sampling = new SamplingOptions { Temperature = 0.8f, Seed = 3 };
        using var batcher = Batcher(maxBatch: 4, maxQueue: 4).Batcher;
        var events = await Run(batcher, Turn("s", 1, sampling: sampling) with { TopLogprobs = 3 });

        using var engine = new InferenceEngine(_model, threads: 1);
        var logits = new float[_model.Config.VocabSize];
        engine.Prefill(engine.CreateState(), [1, 65], logits);
        var sampler = new Sampler(sampling with { Seed = TurnSeed.For(3, 0), MaxTokens = 1 }, _model.Config.VocabSize);
        int token = sampler.Next(logits, []);
        var ids = new int[3];
        var top = new float[3];
        float logprob = sampler.LogProbability(token, ids, top);

        var choice = Assert.Single(events).Logprobs!;
        Assert.Equal(token, events[0].Token);
        Assert.Equal(logprob, choice.Logprob);
        Assert.Equal(ids, choice.TopIds);
        Assert.Equal(top, choice.TopLogprobs);
    }

    [Fact]
    public void ContinuousBatcher_Submit_TokenOutsideTheVocabularyIsRefusedByName()
    {
        using var batcher = Batcher(maxBatch: 4, maxQueue: 4).Batcher;
        var error = Assert.Throws<DeviceRequestException>(() => batcher.Submit(Turn("s", 1, tokens: [1, -3]), CancellationToken.None));
        Assert.Equal(DeviceFault.TokenOutOfVocabulary, error.Fault);
        Assert.Contains("token id -3", error.Message);
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_AFailingStepFailsItsTurnsAndTheNextTurnsAreServed()
    {
        var device = new FlakyDevice(new CpuDevice(_model, threads: 1, maxBatch: 4, maxSessions: 68));
        using var batcher = new ContinuousBatcher("tiny", device, new BatcherLimits(4, 4, 64));
        await Run(batcher, Turn("warm", 1)); // past the warm-up step
        device.FailNextDecode = true;
        var error = await Assert.ThrowsAsync<DeviceUnavailableException>(() => Run(batcher, Turn("a", 3)));
        Assert.Contains("injected", error.Message);

        var served = await Run(batcher, Turn("b", 3));
        Assert.Equal(RunAlone([1, 65], Greedy, turn: 0, maxTokens: 3), served.Select(e => e.Token));
    }

    [Fact]
    public async Task ContinuousBatcher_Submit_ADeviceThatFailsItsWarmUpRefusesTurnsWithTheReason()
    {
        var device = new FlakyDevice(new CpuDevice(_model, threads: 1, maxBatch: 4, maxSessions: 68)) { FailNextDecode = true };
        using var batcher = new ContinuousBatcher("tiny", device, new BatcherLimits(4, 4, 64));
        var error = await Assert.ThrowsAsync<DeviceUnavailableException>(() => Run(batcher, Turn("a", 3)));
        // Either the turn was queued before the warm-up failed, or it was refused after: the reason is the same.
        Assert.Contains("warm-up", error.Message);
        Assert.Contains("injected", error.Message);
    }

    /// <summary>The tokens the engine alone draws for one turn with the batcher's seeding: the oracle.</summary>
    private List<int> RunAlone(int[] prompt, SamplingOptions sampling, int turn, int maxTokens)
    {
        using var engine = new InferenceEngine(_model, threads: 1);
        int v = _model.Config.VocabSize;
        var sampler = new Sampler(sampling with { Seed = TurnSeed.For(sampling.Seed, turn), MaxTokens = maxTokens }, v);
        var state = engine.CreateState();
        var logits = new float[v];
        engine.Prefill(state, prompt, logits);
        var tokens = new List<int>();
        while (true)
        {
            tokens.Add(sampler.Next(logits, []));
            if (tokens.Count == maxTokens)
                return tokens;
            engine.Decode(state, tokens[^1], logits);
        }
    }

    /// <summary>A CPU device whose next decode step fails as a device fault would.</summary>
    private sealed class FlakyDevice(CpuDevice inner) : DeviceDecorator(inner)
    {
        public volatile bool FailNextDecode;

        public override void Decode(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits)
        {
            if (FailNextDecode)
            {
                FailNextDecode = false;
                throw new DeviceUnavailableException("injected decode fault");
            }
            Inner.Decode(sessions, tokens, logits);
        }
    }
}
