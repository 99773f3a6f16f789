using System.Threading.Channels;
using MatMulFree.Engine;
using MatMulFree.Engine.Sampling;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// The CPU engine as a backend, with continuous batching: one dedicated thread admits waiting
/// turns (prefilling each prompt as it joins), then advances every running turn by one token with
/// a single <see cref="InferenceEngine.DecodeBatch"/>, so throughput grows with concurrency. Turns
/// join and leave between steps. A turn works on a copy of its cached state, which replaces the
/// cached one only when the turn completes: a cancelled or failed turn leaves the last state.
/// </summary>
public sealed class EngineBackend : IComputeBackend
{
    /// <summary>Messages up to this long join the decode batch token by token; longer ones are prefilled (one matrix–matrix pass) as they join.</summary>
    public const int BatchedPromptTokens = 16;

    private readonly InferenceEngine _engine;
    private readonly BackendLimits _limits;
    private readonly ServingMetrics? _metrics;
    private readonly object _gate = new();
    private readonly Queue<TurnSequence> _waiting = new();
    private readonly List<TurnSequence> _running = [];
    private readonly StateCache _cache;
    private readonly Thread _thread;
    private readonly float[] _logits;
    private readonly int _vocab, _eos;
    private bool _stopping;
    private int _active, _largestBatch;
    private long _steps, _stepRows;

    public EngineBackend(string model, InferenceEngine engine, BackendLimits limits, ServingMetrics? metrics = null)
    {
        limits.Validate();
        _engine = engine;
        _limits = limits with { MaxBatch = Math.Min(limits.MaxBatch, engine.MaxRows) };
        _metrics = metrics;
        _cache = new StateCache(limits.MaxCachedStates);
        var config = engine.Model.Config;
        _vocab = config.VocabSize;
        _eos = config.EosTokenId;
        _logits = new float[_limits.MaxBatch * _vocab];
        Capabilities = new BackendCapabilities(model, engine.Model.IdentityHex, _vocab, _limits.MaxBatch, _limits.MaxQueue, "cpu", 1.0);
        _thread = new Thread(Loop) { IsBackground = true, Name = $"mmf-batcher-{model}" };
        _thread.Start();
    }

    public BackendCapabilities Capabilities { get; }
    public int Active => Volatile.Read(ref _active);
    public int Queued { get { lock (_gate) return _waiting.Count; } }

    /// <summary>Batched decode steps run, the sessions they advanced, and the largest batch: what tests and benchmarks read to see batching happen.</summary>
    public long Steps => Interlocked.Read(ref _steps);
    public long StepRows => Interlocked.Read(ref _stepRows);
    public int LargestBatch => Volatile.Read(ref _largestBatch);

    public ChannelReader<BackendEvent> Submit(BackendTurn turn, CancellationToken cancellationToken)
    {
        foreach (int id in turn.Tokens)
            if ((uint)id >= (uint)_vocab)
                throw new ServingRequestException($"token id {id} is outside the vocabulary of model {Capabilities.Model} [0, {_vocab})");
        var options = turn.Sampling.ForTurn(turn.Version, turn.MaxTokens);
        var sequence = new TurnSequence(turn, new Sampler(options, _vocab));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            // Free batch slots take turns at once; beyond them at most MaxQueue may wait.
            if (_waiting.Count >= _limits.MaxQueue + Math.Max(0, _limits.MaxBatch - Active))
            {
                _metrics?.RecordRejected(Capabilities.Model);
                int retry = Math.Max(1, _waiting.Count / Math.Max(1, _limits.MaxBatch));
                throw new BackendBusyException($"backend for model {Capabilities.Model} is full ({_waiting.Count} turns waiting, {Active} running); retry in {retry} s", retry);
            }
            _waiting.Enqueue(sequence);
            Monitor.Pulse(_gate);
        }
        sequence.OnCancel(cancellationToken, Wake);
        return sequence.Events.Reader;
    }

    private void Wake()
    {
        lock (_gate)
            Monitor.Pulse(_gate);
    }

    /// <summary>
    /// One batched step of scratch sessions before serving: it builds the weights' lookup-table index
    /// (≈ 114 MB and seconds of work for 370M, otherwise paid by the first users' first tokens) and
    /// compiles the batched path. Turns that arrive meanwhile wait in the queue.
    /// </summary>
    private void WarmUp()
    {
        int n = Math.Min(InferenceEngine.LookupTableMinTokens, _limits.MaxBatch);
        var scratch = new RecurrentState[n];
        for (int i = 0; i < n; i++) scratch[i] = _engine.CreateState();
        _engine.DecodeBatch(scratch, new int[n], _logits.AsSpan(0, n * _vocab));
    }

    private void Loop()
    {
        WarmUp();
        var states = new RecurrentState[_limits.MaxBatch];
        var tokens = new int[_limits.MaxBatch];
        while (true)
        {
            lock (_gate)
            {
                while (!_stopping && _waiting.Count == 0 && _running.Count == 0)
                    Monitor.Wait(_gate);
                if (_stopping)
                    break;
                while (_running.Count < _limits.MaxBatch && _waiting.TryDequeue(out var next))
                {
                    _running.Add(next);
                    next.Joined = true;
                }
            }
            Volatile.Write(ref _active, _running.Count);

            // Newcomers with a long message prefill it now; short ones start feeding it in this step.
            foreach (var s in _running)
                if (s.State is null && !s.Cancelled)
                    Guard(s, () => Start(s));
            _running.RemoveAll(s => s.Cancelled && s.Drop() || s.Done);

            int n = 0;
            foreach (var s in _running)
            {
                states[n] = s.State!;
                tokens[n++] = s.NextInput;
            }
            if (n == 0)
                continue;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                _engine.DecodeBatch(states.AsSpan(0, n), tokens.AsSpan(0, n), _logits.AsSpan(0, n * _vocab));
            }
            catch (Exception e)
            {
                foreach (var s in _running)
                    s.Fail(e);
                _running.Clear();
                continue;
            }
            _metrics?.RecordStep(Capabilities.Model, n, System.Diagnostics.Stopwatch.GetElapsedTime(started));
            Interlocked.Increment(ref _steps);
            Interlocked.Add(ref _stepRows, n);
            if (n > _largestBatch)
                Volatile.Write(ref _largestBatch, n);
            for (int i = 0; i < n; i++)
            {
                var s = _running[i];
                Guard(s, () => Advance(s, _logits.AsSpan(i * _vocab, _vocab)));
            }
            _running.RemoveAll(s => s.Done);
            Volatile.Write(ref _active, _running.Count);
            Array.Clear(states, 0, n);
        }
        foreach (var s in _running)
            s.Fail(new BackendUnavailableException($"backend for model {Capabilities.Model} is shutting down"));
    }

    private void Start(TurnSequence s)
    {
        var turn = s.Turn;
        RecurrentState? state = turn.State is { } bytes
            ? RecurrentState.Deserialize(bytes, _engine.Model.Identity, $"state of session {turn.SessionId}")
            : _cache.Find(turn.SessionId, turn.Incarnation, turn.Version)?.Clone()
              ?? (turn.Version == 0 ? _engine.CreateState() : null);
        if (state is null)
        {
            s.NeedState();
            return;
        }
        s.State = state;
        if (turn.Tokens.Length == 0)
            throw new ServingRequestException($"session {turn.SessionId}: the turn has no tokens to absorb");
        if (turn.Tokens.Length <= BatchedPromptTokens)
        {
            // A short message rides the shared decode steps one token per step: no step of the
            // others waits for it, and each row's arithmetic is the same as in a prefill.
            s.NextInput = turn.Tokens[0];
            s.PromptFed = 1;
            return;
        }
        var logits = _logits.AsSpan(0, _vocab);
        _engine.Prefill(state, turn.Tokens, logits);
        s.PromptFed = turn.Tokens.Length;
        AfterPrompt(s, logits);
    }

    /// <summary>After a step: feed the next message token, or sample once the whole message is in.</summary>
    private void Advance(TurnSequence s, ReadOnlySpan<float> logits)
    {
        if (s.PromptFed < s.Turn.Tokens.Length)
            s.NextInput = s.Turn.Tokens[s.PromptFed++];
        else if (s.Produced == 0)
            AfterPrompt(s, logits);
        else
            Emit(s, logits);
    }

    private void AfterPrompt(TurnSequence s, ReadOnlySpan<float> logits)
    {
        if (s.Turn.MaxTokens == 0)
            Finish(s, -1, "length");
        else
            Emit(s, logits);
    }

    private void Emit(TurnSequence s, ReadOnlySpan<float> logits)
    {
        int token = s.Sampler.Next(logits, []);
        s.Produced++;
        _metrics?.RecordToken(Capabilities.Model);
        var logprobs = s.Turn.TopLogprobs >= 0 ? LogProbabilities(s, token) : null;
        string? finish = s.Turn.StopAtEos && token == _eos ? "stop" : s.Produced >= s.Turn.MaxTokens ? "length" : null;
        if (finish is not null)
            Finish(s, token, finish, logprobs);
        else
        {
            s.Events.Writer.TryWrite(new BackendEvent(token, null, Logprobs: logprobs));
            s.NextInput = token;
        }
    }

    private static TokenLogprobs LogProbabilities(TurnSequence s, int token)
    {
        var ids = new int[Math.Min(s.Turn.TopLogprobs, 64)];
        var top = new float[ids.Length];
        float logprob = s.Sampler.LogProbability(token, ids, top);
        return new TokenLogprobs(logprob, ids, top);
    }

    private void Finish(TurnSequence s, int lastToken, string reason, TokenLogprobs? logprobs = null)
    {
        var state = s.State!;
        _cache.Store(s.Turn.SessionId, s.Turn.Incarnation, s.Turn.Version + 1, state);
        s.Complete(new BackendEvent(lastToken, reason, state.Serialize(), state.Tokens, Logprobs: logprobs));
    }

    private static void Guard(TurnSequence s, Action step)
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
                s.Fail(new BackendUnavailableException($"backend for model {Capabilities.Model} is shutting down"));
        _engine.Dispose();
    }
}
