using System.Threading.Channels;
using MatMulFree.Engine;
using MatMulFree.Engine.Sampling;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>One turn inside a batching backend: its working state, sampler, progress and the channel its events go to.</summary>
public sealed class TurnSequence(BackendTurn turn, Sampler sampler)
{
    private CancellationTokenRegistration _registration;
    private volatile bool _cancelled;

    public BackendTurn Turn { get; } = turn;
    public Sampler Sampler { get; } = sampler;
    public Channel<BackendEvent> Events { get; } = Channel.CreateUnbounded<BackendEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>A copy of the session's state, advanced by this turn; null until the turn starts.</summary>
    public RecurrentState? State { get; set; }

    public int NextInput { get; set; }

    /// <summary>Tokens of the message already handed to the engine.</summary>
    public int PromptFed { get; set; }
    public int Produced { get; set; }
    public bool Joined { get; set; }
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

    public void NeedState() => Complete(BackendEvent.MissingState);

    public void Complete(BackendEvent last)
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

    /// <summary>Ends a cancelled turn; its working state is dropped, the cache keeps the previous one.</summary>
    public bool Drop()
    {
        Fail(new OperationCanceledException($"turn of session {Turn.SessionId} was cancelled"));
        return true;
    }

    private void End()
    {
        Done = true;
        State = null;
        _registration.Dispose();
    }
}
