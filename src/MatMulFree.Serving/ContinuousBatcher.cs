using System.Diagnostics;
using System.Threading.Channels;
using MatMulFree.Engine;
using MatMulFree.Engine.Sampling;

namespace MatMulFree.Serving;

/// <summary>
/// Continuous batching over any <see cref="IDecodeDevice"/>: one dedicated thread (the device's
/// driver) admits waiting turns (prefilling long prompts as they join, in one device call), then
/// advances every running turn by one token with a single <see cref="IDecodeDevice.Decode"/>, so
/// throughput grows with concurrency. Turns join and leave between steps. Sampling happens here,
/// on the host, seeded by (session seed, turn number) alone, so a turn's tokens do not depend on
/// which batch or device computed them. A turn works on a device copy of its cached state, which
/// replaces the cached one only when the turn completes: a cancelled or failed turn leaves the last state.
/// </summary>
/// <remarks>The batcher owns the device and disposes it.</remarks>
public sealed class ContinuousBatcher : IDisposable
{
    /// <summary>Messages up to this long join the decode batch token by token; longer ones are prefilled (one matrix–matrix pass) as they join.</summary>
    public const int BatchedPromptTokens = 16;

    private readonly IDecodeDevice _device;
    private readonly BatcherLimits _limits;
    private readonly IBatchMetrics? _metrics;
    private readonly object _gate = new();
    private readonly Queue<RunningTurn> _waiting = new();
    private readonly List<RunningTurn> _running = [];
    private readonly StateCache _cache;
    private readonly Thread _thread;
    private readonly float[] _logits;
    private readonly int _vocab, _eos;
    private bool _stopping;
    private string? _stopReason;
    private int _active, _largestBatch;
    private long _steps, _stepRows;

    public ContinuousBatcher(string model, IDecodeDevice device, BatcherLimits limits, IBatchMetrics? metrics = null)
    {
        limits.Validate();
        var loaded = device.Model ?? throw new ArgumentException($"the {device.Kind} device for model {model} has no model loaded", nameof(device));
        Model = model;
        _device = device;
        var capacity = device.Capacity;
        int maxBatch = Math.Min(limits.MaxBatch, capacity.MaxBatch);
        // Every running turn holds a working copy on the device besides the cached states.
        int cached = Math.Min(limits.MaxCachedStates, capacity.MaxSessions - maxBatch);
        if (cached < 1)
            throw new ArgumentException($"the {device.Kind} device for model {model} holds {capacity.MaxSessions} sessions: no room for a cache beside a batch of {maxBatch}", nameof(device));
        _limits = limits with { MaxBatch = maxBatch, MaxCachedStates = cached };
        _metrics = metrics;
        _cache = new StateCache(cached, device.DropSession);
        _vocab = loaded.VocabSize;
        _eos = loaded.EosTokenId;
        ModelIdentity = loaded.Identity;
        _logits = new float[maxBatch * _vocab];
        _thread = new Thread(Loop) { IsBackground = true, Name = $"mmf-batcher-{model}" };
        _thread.Start();
    }

    public string Model { get; }
    public string ModelIdentity { get; }
    public int VocabSize => _vocab;
    public IDecodeDevice Device => _device;

    /// <summary>The limits in force: the batch clipped to the device's, the cache to what the device holds beside a batch.</summary>
    public BatcherLimits Limits => _limits;

    /// <summary>Turns being generated now.</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary>Turns accepted but waiting for a batch slot.</summary>
    public int Queued { get { lock (_gate) return _waiting.Count; } }

    /// <summary>Batched decode steps run, the sessions they advanced, and the largest batch: what tests and benchmarks read to see batching happen.</summary>
    public long Steps => Interlocked.Read(ref _steps);
    public long StepRows => Interlocked.Read(ref _stepRows);
    public int LargestBatch => Volatile.Read(ref _largestBatch);

    /// <summary>
    /// Queues a turn; its events arrive on the returned reader, which completes after the final
    /// event (or with the turn's error). Cancelling drops the turn and leaves the cached state as
    /// it was before it.
    /// </summary>
    /// <exception cref="DeviceRequestException">A token outside the vocabulary.</exception>
    /// <exception cref="BatcherBusyException">The queue is full.</exception>
    /// <exception cref="DeviceUnavailableException">The batcher is shutting down.</exception>
    public ChannelReader<BatchTurnEvent> Submit(BatchTurn turn, CancellationToken cancellationToken)
    {
        foreach (int id in turn.Tokens)
            if ((uint)id >= (uint)_vocab)
                throw new DeviceRequestException(DeviceFault.TokenOutOfVocabulary, $"token id {id} is outside the vocabulary of model {Model} [0, {_vocab})");
        var options = turn.Sampling with { Seed = TurnSeed.For(turn.Sampling.Seed, turn.Version), MaxTokens = turn.MaxTokens };
        options.Validate();
        var running = new RunningTurn(turn, new Sampler(options, _vocab));
        lock (_gate)
        {
            if (_stopping)
                throw ShuttingDown();
            // Free batch slots take turns at once; beyond them at most MaxQueue may wait.
            if (_waiting.Count >= _limits.MaxQueue + Math.Max(0, _limits.MaxBatch - Active))
            {
                _metrics?.Rejected();
                int retry = Math.Max(1, _waiting.Count / Math.Max(1, _limits.MaxBatch));
                throw new BatcherBusyException($"backend for model {Model} is full ({_waiting.Count} turns waiting, {Active} running); retry in {retry} s", retry);
            }
            _waiting.Enqueue(running);
            Monitor.Pulse(_gate);
        }
        running.OnCancel(cancellationToken, Wake);
        return running.Events.Reader;
    }

    private DeviceUnavailableException ShuttingDown() => new(_stopReason ?? $"backend for model {Model} is shutting down");

    private void Wake()
    {
        lock (_gate)
            Monitor.Pulse(_gate);
    }

    /// <summary>
    /// One batched step of scratch sessions before serving: on the CPU it builds the weights'
    /// lookup-table index (≈ 114 MB and seconds of work for 370M, otherwise paid by the first users'
    /// first tokens; it needs <see cref="InferenceEngine.LookupTableMinTokens"/> rows), elsewhere it
    /// compiles the batched path. Turns that arrive meanwhile wait in the queue.
    /// </summary>
    private void WarmUp()
    {
        int n = Math.Min(InferenceEngine.LookupTableMinTokens, _limits.MaxBatch);
        var scratch = new DeviceSession[n];
        for (int i = 0; i < n; i++) scratch[i] = _device.CreateSession();
        _device.Decode(scratch, new int[n], _logits.AsSpan(0, n * _vocab));
        foreach (var s in scratch) _device.DropSession(s);
    }

    private void Loop()
    {
        try
        {
            WarmUp();
        }
        catch (Exception e)
        {
            // A device that cannot run one step serves nobody: every turn gets the reason.
            Stop(new DeviceUnavailableException($"backend for model {Model}: the {_device.Kind} device failed its warm-up step: {e.Message}"));
            return;
        }
        var sessions = new DeviceSession[_limits.MaxBatch];
        var tokens = new int[_limits.MaxBatch];
        var prefilling = new List<RunningTurn>();
        while (true)
        {
            lock (_gate)
            {
                while (!_stopping && _waiting.Count == 0 && _running.Count == 0)
                    Monitor.Wait(_gate);
                if (_stopping)
                    break;
                while (_running.Count < _limits.MaxBatch && _waiting.TryDequeue(out var next))
                    _running.Add(next);
            }
            Volatile.Write(ref _active, _running.Count);

            // Newcomers with a long message prefill it now, together; short ones start feeding it in this step.
            prefilling.Clear();
            foreach (var s in _running)
                if (s.Working is null && !s.Done && !s.Cancelled)
                    Guard(s, () => Start(s, prefilling));
            if (prefilling.Count > 0)
                Prefill(prefilling);
            Sweep();

            int n = 0;
            foreach (var s in _running)
            {
                sessions[n] = s.Working!.Value;
                tokens[n++] = s.NextInput;
            }
            if (n == 0)
                continue;
            long started = Stopwatch.GetTimestamp();
            try
            {
                _device.Decode(sessions.AsSpan(0, n), tokens.AsSpan(0, n), _logits.AsSpan(0, n * _vocab));
            }
            catch (Exception e)
            {
                foreach (var s in _running)
                    s.Fail(e);
                Sweep();
                continue;
            }
            _metrics?.Step(n, Stopwatch.GetElapsedTime(started));
            Interlocked.Increment(ref _steps);
            Interlocked.Add(ref _stepRows, n);
            if (n > _largestBatch)
                Volatile.Write(ref _largestBatch, n);
            for (int i = 0; i < n; i++)
            {
                var s = _running[i];
                Guard(s, () => Advance(s, _logits.AsSpan(i * _vocab, _vocab)));
            }
            Sweep();
            Volatile.Write(ref _active, _running.Count);
        }
        Stop(ShuttingDown());
    }

    private void Stop(DeviceUnavailableException reason)
    {
        _stopReason ??= reason.Message;
        foreach (var s in _running)
            s.Fail(reason);
        _running.Clear();
        lock (_gate)
        {
            _stopping = true;
            while (_waiting.TryDequeue(out var s))
                s.Fail(reason);
        }
    }

    /// <summary>Takes ended turns out of the batch; a cancelled one ends here, and an unfinished turn's working copy leaves the device.</summary>
    private void Sweep() =>
        _running.RemoveAll(s =>
        {
            if (s.Cancelled && !s.Done)
                s.Drop();
            if (!s.Done)
                return false;
            if (s.Working is { } working)
            {
                s.Working = null;
                try { _device.DropSession(working); }
                catch (Core.MatMulFreeException) { } // the device lost it already (a failed step): nothing left to free
            }
            return true;
        });

    private void Start(RunningTurn s, List<RunningTurn> prefilling)
    {
        var turn = s.Turn;
        if (turn.State is { } bytes)
            s.Working = _device.ImportSession(bytes);
        else if (_cache.Find(turn.SessionId, turn.Incarnation, turn.Version) is { } cached)
            s.Working = _device.CopySession(cached);
        else if (turn.Version == 0)
            s.Working = _device.CreateSession();
        else
        {
            s.NeedState();
            return;
        }
        if (turn.Tokens.Length == 0)
            throw new DeviceRequestException(DeviceFault.EmptyPrompt, $"session {turn.SessionId}: the turn has no tokens to absorb");
        if (turn.Tokens.Length <= BatchedPromptTokens)
        {
            // A short message rides the shared decode steps one token per step: no step of the
            // others waits for it, and each row's arithmetic is the same as in a prefill.
            s.NextInput = turn.Tokens[0];
            s.PromptFed = 1;
            return;
        }
        prefilling.Add(s);
    }

    private void Prefill(List<RunningTurn> turns)
    {
        var sessions = new DeviceSession[turns.Count];
        var prompts = new int[turns.Count][];
        for (int i = 0; i < turns.Count; i++)
        {
            sessions[i] = turns[i].Working!.Value;
            prompts[i] = turns[i].Turn.Tokens;
        }
        var logits = _logits.AsSpan(0, turns.Count * _vocab);
        try
        {
            _device.Prefill(sessions, prompts, logits);
        }
        catch (Exception e)
        {
            foreach (var s in turns)
                s.Fail(e);
            return;
        }
        for (int i = 0; i < turns.Count; i++)
        {
            var s = turns[i];
            s.PromptFed = s.Turn.Tokens.Length;
            Guard(s, () => AfterPrompt(s, _logits.AsSpan(i * _vocab, _vocab)));
        }
    }

    /// <summary>After a step: feed the next message token, or sample once the whole message is in.</summary>
    private void Advance(RunningTurn s, ReadOnlySpan<float> logits)
    {
        if (s.PromptFed < s.Turn.Tokens.Length)
            s.NextInput = s.Turn.Tokens[s.PromptFed++];
        else if (s.Produced == 0)
            AfterPrompt(s, logits);
        else
            Emit(s, logits);
    }

    private void AfterPrompt(RunningTurn s, ReadOnlySpan<float> logits)
    {
        if (s.Turn.MaxTokens == 0)
            Finish(s, -1, "length");
        else
            Emit(s, logits);
    }

    private void Emit(RunningTurn s, ReadOnlySpan<float> logits)
    {
        int token = s.Sampler.Next(logits, []);
        s.Produced++;
        _metrics?.Token();
        var logprobs = s.Turn.TopLogprobs >= 0 ? LogProbabilities(s, token) : null;
        string? finish = s.Turn.StopAtEos && token == _eos ? "stop" : s.Produced >= s.Turn.MaxTokens ? "length" : null;
        if (finish is not null)
            Finish(s, token, finish, logprobs);
        else
        {
            s.Events.Writer.TryWrite(new BatchTurnEvent(token, null, Logprobs: logprobs));
            s.NextInput = token;
        }
    }

    private static TokenChoice LogProbabilities(RunningTurn s, int token)
    {
        var ids = new int[Math.Min(s.Turn.TopLogprobs, 64)];
        var top = new float[ids.Length];
        float logprob = s.Sampler.LogProbability(token, ids, top);
        return new TokenChoice(logprob, ids, top);
    }

    private void Finish(RunningTurn s, int lastToken, string reason, TokenChoice? logprobs = null)
    {
        var working = s.Working!.Value;
        var state = _device.ExportSession(working);
        // The working copy becomes the cached state (the cache drops the one it replaces).
        s.Working = null;
        _cache.Store(s.Turn.SessionId, s.Turn.Incarnation, s.Turn.Version + 1, working);
        s.Complete(new BatchTurnEvent(lastToken, reason, state.Bytes, state.Tokens, Logprobs: logprobs));
    }

    private static void Guard(RunningTurn s, Action step)
    {
        try { step(); }
        catch (Exception e) { s.Fail(e); }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        _thread.Join();
        lock (_gate)
            while (_waiting.TryDequeue(out var s))
                s.Fail(ShuttingDown());
        _device.Dispose();
    }
}
