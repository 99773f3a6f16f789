using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using MatMulFree.Core;
using MatMulFree.Serving;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// A device of this silo's process behind the turn-level backend contract its grain speaks: the
/// <see cref="ContinuousBatcher"/> in src/MatMulFree.Serving does the batching, sampling and state
/// caching for any <see cref="IDecodeDevice"/>; this only translates turns, events and errors into
/// the grain messages and the serving exceptions that cross grain calls (and map to HTTP statuses).
/// </summary>
public sealed class DeviceBackend : IComputeBackend
{
    /// <summary>How often the device is asked for its health: a node that stops answering is out of rotation within about three periods plus the router's refresh.</summary>
    public static readonly TimeSpan HealthPeriod = TimeSpan.FromMilliseconds(500);

    private readonly ContinuousBatcher _batcher;
    private readonly DeviceHealthProbe _health;
    private readonly IDecodeDevice? _probed;

    /// <param name="cost">Relative cost per token the router may weigh (CPU = 1).</param>
    /// <param name="name">Which of the silo's devices this is: <see cref="BackendKey.LocalDevice"/> or a remote node's name.</param>
    /// <param name="healthProbe">What to ask for the device's health, when not the device itself (a remote device's second connection, with a short deadline); owned and disposed with the backend.</param>
    public DeviceBackend(string model, IDecodeDevice device, BackendLimits limits, ServingMetrics? metrics = null, double cost = 1.0,
        string name = BackendKey.LocalDevice, IDecodeDevice? healthProbe = null)
    {
        limits.Validate();
        _batcher = new ContinuousBatcher(model, device, new BatcherLimits(limits.MaxBatch, limits.MaxQueue, limits.MaxCachedStates),
            metrics is null ? null : new Meter(metrics, model));
        var inForce = _batcher.Limits;
        Capabilities = new BackendCapabilities(model, _batcher.ModelIdentity, _batcher.VocabSize, inForce.MaxBatch, inForce.MaxQueue, device.Kind, cost, name);
        _probed = healthProbe;
        _health = new DeviceHealthProbe(healthProbe ?? device, HealthPeriod);
    }

    public BackendCapabilities Capabilities { get; }
    public int Active => _batcher.Active;
    public int Queued => _batcher.Queued;

    public string? Fault => _health.Latest is { Ready: false } health ? $"{health.Status}: {health.Detail}" : null;

    /// <summary>Batched decode steps run, the sessions they advanced, and the largest batch: what tests and benchmarks read to see batching happen.</summary>
    public long Steps => _batcher.Steps;
    public long StepRows => _batcher.StepRows;
    public int LargestBatch => _batcher.LargestBatch;

    public ChannelReader<BackendEvent> Submit(BackendTurn turn, CancellationToken cancellationToken)
    {
        var request = new BatchTurn(turn.SessionId, turn.Incarnation, turn.Version, turn.State, turn.Tokens, turn.MaxTokens, turn.StopAtEos,
            turn.Sampling.SessionOptions(turn.MaxTokens), turn.TopLogprobs);
        try
        {
            return new EventReader(_batcher.Submit(request, cancellationToken));
        }
        catch (MatMulFreeException error)
        {
            throw Translate(error);
        }
    }

    private static Exception Translate(Exception error) => error switch
    {
        BatcherBusyException busy => new BackendBusyException(busy.Message, busy.RetryAfterSeconds),
        DeviceUnavailableException gone => new BackendUnavailableException(gone.Message),
        DeviceRequestException bad => new ServingRequestException(bad.Message),
        _ => error,
    };

    private static BackendEvent ToMessage(BatchTurnEvent e) => e.NeedState
        ? BackendEvent.MissingState
        : new BackendEvent(e.Token, e.FinishReason, e.FinalState, e.StateTokens,
            Logprobs: e.Logprobs is { } l ? new TokenLogprobs(l.Logprob, l.TopIds, l.TopLogprobs) : null);

    public void Dispose()
    {
        _health.Dispose();
        _probed?.Dispose();
        _batcher.Dispose();
    }

    /// <summary>The batcher's events as grain messages; a turn's error surfaces where the reader waits, translated.</summary>
    private sealed class EventReader(ChannelReader<BatchTurnEvent> events) : ChannelReader<BackendEvent>
    {
        public override Task Completion => Translated(events.Completion);

        public override bool TryRead([MaybeNullWhen(false)] out BackendEvent item)
        {
            item = events.TryRead(out var e) ? ToMessage(e) : null;
            return item is not null;
        }

        public override async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await events.WaitToReadAsync(cancellationToken);
            }
            catch (MatMulFreeException error)
            {
                throw Translate(error);
            }
        }

        private static async Task Translated(Task completion)
        {
            try
            {
                await completion;
            }
            catch (MatMulFreeException error)
            {
                throw Translate(error);
            }
        }
    }

    private sealed class Meter(ServingMetrics metrics, string model) : IBatchMetrics
    {
        public void Token() => metrics.RecordToken(model);
        public void Rejected() => metrics.RecordRejected(model);
        public void Step(int sessions, TimeSpan duration) => metrics.RecordStep(model, sessions, duration);
    }
}
