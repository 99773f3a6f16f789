using MatMulFree.Grains.Serving;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Silo;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// The batching backend as its grain sees it, without Orleans: the batcher's answers and errors
/// arrive as grain messages and serving exceptions (the batcher itself is tested in
/// MatMulFree.Serving.Library.Tests).
/// </summary>
public sealed class DeviceBackendTests : IDisposable
{
    private readonly ServedModel _model = ServedModel.Load(TestModels.TinyDirectory, Path.GetTempPath());

    public void Dispose() => _model.Dispose();

    private DeviceBackend Backend(int maxBatch, int maxQueue) =>
        new("tiny", new CpuDevice(_model.Engine, threads: 1), new BackendLimits(maxBatch, maxQueue));

    private static BackendTurn Turn(string id, int maxTokens, int version = 0, byte[]? state = null) =>
        new(id, Guid.Empty, version, state, [1, 65], maxTokens, StopAtEos: false, SamplingSettings.Greedy);

    [Fact]
    public async Task DeviceBackend_Submit_RefusesWhenTheQueueIsFullWithARetryableError()
    {
        using var backend = Backend(maxBatch: 1, maxQueue: 1);
        using var cancel = new CancellationTokenSource();
        var running = backend.Submit(Turn("a", 1_000_000), cancel.Token);
        await running.ReadAsync(); // "a" holds the only batch slot
        backend.Submit(Turn("b", 1), cancel.Token); // waits in the queue's only place

        var busy = Assert.Throws<BackendBusyException>(() => backend.Submit(Turn("c", 1), cancel.Token));
        Assert.True(busy.RetryAfterSeconds >= 1);
        Assert.Contains("full", busy.Message);
        cancel.Cancel();
    }

    [Fact]
    public async Task DeviceBackend_Submit_AsksForTheStateWhenItsCacheDoesNotHoldIt()
    {
        using var backend = Backend(maxBatch: 4, maxQueue: 4);
        var events = await backend.Submit(Turn("unknown", 3, version: 5), CancellationToken.None).ReadAllAsync().ToListAsync();
        Assert.True(Assert.Single(events).NeedState);
    }

    [Fact]
    public async Task DeviceBackend_Submit_ContinuesFromItsCacheAndFromSentStateAlike()
    {
        using var backend = Backend(maxBatch: 4, maxQueue: 4);
        var first = await backend.Submit(Turn("s", 5), CancellationToken.None).ReadAllAsync().ToListAsync();
        byte[] state = first[^1].FinalState!;

        var cached = await backend.Submit(Turn("s", 6, version: 1), CancellationToken.None).ReadAllAsync().ToListAsync();
        var sent = await backend.Submit(Turn("other", 6, version: 1, state: state), CancellationToken.None).ReadAllAsync().ToListAsync();

        Assert.Equal(cached.Select(e => e.Token), sent.Select(e => e.Token));
        Assert.Equal(cached[^1].FinalState, sent[^1].FinalState);
    }

    [Fact]
    public void DeviceBackend_Submit_TokenOutsideTheVocabularyIsAServingRequestError()
    {
        using var backend = Backend(maxBatch: 4, maxQueue: 4);
        var turn = Turn("s", 1) with { Tokens = [1, 256] };
        var error = Assert.Throws<ServingRequestException>(() => backend.Submit(turn, CancellationToken.None));
        Assert.Contains("token id 256 is outside the vocabulary of model tiny", error.Message);
    }

    [Fact]
    public async Task DeviceBackend_Submit_ATurnWithoutTokensFailsItsStreamWithAServingRequestError()
    {
        using var backend = Backend(maxBatch: 4, maxQueue: 4);
        var events = backend.Submit(Turn("s", 1) with { Tokens = [] }, CancellationToken.None);
        var error = await Assert.ThrowsAsync<ServingRequestException>(async () => await events.ReadAllAsync().ToListAsync());
        Assert.Contains("session s", error.Message);
        await Assert.ThrowsAsync<ServingRequestException>(() => events.Completion);
    }

    [Fact]
    public void DeviceBackend_Submit_AfterDisposeIsRetryableElsewhere()
    {
        var backend = Backend(maxBatch: 4, maxQueue: 4);
        backend.Dispose();
        var error = Assert.Throws<BackendUnavailableException>(() => backend.Submit(Turn("s", 1), CancellationToken.None));
        Assert.Contains("shutting down", error.Message);
    }

    [Fact]
    public async Task DeviceBackend_Submit_CarriesLogprobsIntoTheGrainMessages()
    {
        using var backend = Backend(maxBatch: 4, maxQueue: 4);
        var events = await backend.Submit(Turn("s", 3) with { TopLogprobs = 2 }, CancellationToken.None).ReadAllAsync().ToListAsync();
        Assert.Equal(3, events.Count);
        Assert.All(events, e => Assert.Equal(2, e.Logprobs!.TopIds.Length));
        Assert.Equal("length", events[^1].FinishReason);
    }
}
