using MatMulFree.Grains.Serving;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Silo;

namespace MatMulFree.Serving.Tests;

/// <summary>The batching backend without Orleans: backpressure and the state cache.</summary>
public sealed class EngineBackendTests : IDisposable
{
    private readonly ServedModel _model = ServedModel.Load(TestModels.TinyDirectory, Path.GetTempPath());

    public void Dispose() => _model.Dispose();

    private EngineBackend Backend(int maxBatch, int maxQueue) =>
        new("tiny", new Engine.InferenceEngine(_model.Engine, threads: 1), new BackendLimits(maxBatch, maxQueue));

    private static BackendTurn Turn(string id, int maxTokens, int version = 0, byte[]? state = null) =>
        new(id, Guid.Empty, version, state, [1, 65], maxTokens, StopAtEos: false, SamplingSettings.Greedy);

    [Fact]
    public async Task EngineBackend_Submit_RefusesWhenTheQueueIsFullWithARetryableError()
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
    public async Task EngineBackend_Submit_AsksForTheStateWhenItsCacheDoesNotHoldIt()
    {
        using var backend = Backend(maxBatch: 4, maxQueue: 4);
        var events = await backend.Submit(Turn("unknown", 3, version: 5), CancellationToken.None).ReadAllAsync().ToListAsync();
        Assert.True(Assert.Single(events).NeedState);
    }

    [Fact]
    public async Task EngineBackend_Submit_ContinuesFromItsCacheAndFromSentStateAlike()
    {
        using var backend = Backend(maxBatch: 4, maxQueue: 4);
        var first = await backend.Submit(Turn("s", 5), CancellationToken.None).ReadAllAsync().ToListAsync();
        byte[] state = first[^1].FinalState!;

        var cached = await backend.Submit(Turn("s", 6, version: 1), CancellationToken.None).ReadAllAsync().ToListAsync();
        var sent = await backend.Submit(Turn("other", 6, version: 1, state: state), CancellationToken.None).ReadAllAsync().ToListAsync();

        Assert.Equal(cached.Select(e => e.Token), sent.Select(e => e.Token));
        Assert.Equal(cached[^1].FinalState, sent[^1].FinalState);
    }
}
