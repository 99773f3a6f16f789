using System.Threading.Channels;
using MatMulFree.Engine.Sampling;

namespace MatMulFree.Serving;

/// <summary>One turn inside a batcher: its working session on the device, sampler, progress and the channel its events go to.</summary>
internal sealed class RunningTurn(BatchTurn turn, Sampler sampler)
{
    private CancellationTokenRegistration _registration;
    private volatile bool _cancelled;

    public BatchTurn Turn { get; } = turn;
    public Sampler Sampler { get; } = sampler;
    public Channel<BatchTurnEvent> Events { get; } = Channel.CreateUnbounded<BatchTurnEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>A copy of the session's state on the device, advanced by this turn; null until the turn starts and after it ends.</summary>
    public DeviceSession? Working { get; set; }

    public int NextInput { get; set; }

    /// <summary>Tokens of the message already handed to the device.</summary>
    public int PromptFed { get; set; }
    public int Produced { get; set; }
    public bool Done { get; private set; }
    public bool Cancelled => _cancelled;

    public void OnCancel(CancellationToken token, Action wake)
    {
        if (!token.CanBeCanceled)
            return;
        _registration = token.Register(() =>
        {
            _cancelled = true;
            wake();
        });
    }

    public void NeedState() => Complete(BatchTurnEvent.MissingState);

    public void Complete(BatchTurnEvent last)
    {
        Events.Writer.TryWrite(last);
        Events.Writer.TryComplete();
        End();
    }

    public void Fail(Exception error)
    {
        Events.Writer.TryComplete(error);
        End();
    }

    /// <summary>Ends a cancelled turn; the batcher drops its working session, the cache keeps the previous one.</summary>
    public void Drop() => Fail(new OperationCanceledException($"turn of session {Turn.SessionId} was cancelled"));

    private void End()
    {
        Done = true;
        _registration.Dispose();
    }
}
