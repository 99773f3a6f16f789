using System.Diagnostics;
using MatMulFree.Core;
using MatMulFree.Engine;

namespace MatMulFree.Serving;

/// <summary>
/// The CPU inference engine as a device: session states are <see cref="RecurrentState"/>s in this
/// process, a decode step is one <see cref="InferenceEngine.DecodeBatch"/>. Either built around a
/// model the host loaded already (the silo shares one <see cref="EngineModel"/> between its
/// tokenizer and its devices, and keeps owning it) or loaded from a local folder by
/// <see cref="LoadAsync"/> (then the device owns the weights).
/// </summary>
public sealed class CpuDevice : IDecodeDevice
{
    public const string DeviceKind = "cpu";

    private readonly object _gate = new();
    private readonly Dictionary<ulong, RecurrentState> _sessions = [];
    // Reused by every step (under the gate): a step of the tiny model takes ~0.1 ms, so per-step garbage shows.
    private readonly HashSet<ulong> _seen = [];
    private readonly RecurrentState[] _rows;
    private readonly int _threads, _maxBatch, _maxSessions;
    private InferenceEngine? _engine;
    private EngineModel? _owned;
    private DeviceModel? _model;
    private ulong _nextId;
    private long _tokens, _steps, _busyTicks;
    private string? _fault;
    private bool _disposed;

    /// <param name="maxBatch">Rows of one decode step (the engine's scratch is sized for it).</param>
    /// <param name="maxSessions">States held at once: the batcher's cache plus a working copy per batch row.</param>
    public CpuDevice(int threads = 0, int maxBatch = 64, int maxSessions = 1024 + 64)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "a device steps at least one session");
        if (maxSessions < maxBatch) throw new ArgumentOutOfRangeException(nameof(maxSessions), maxSessions, $"a device holds at least a batch of sessions ({maxBatch})");
        _threads = threads;
        _maxBatch = maxBatch;
        _maxSessions = maxSessions;
        _rows = new RecurrentState[maxBatch];
    }

    /// <summary>A device over a model the caller loaded and keeps owning.</summary>
    public CpuDevice(EngineModel model, int threads = 0, int maxBatch = 64, int maxSessions = 1024 + 64) : this(threads, maxBatch, maxSessions) =>
        Use(new InferenceEngine(model, threads: threads, maxRows: maxBatch), owned: null);

    /// <summary>A device over an engine the caller built (its kernel, threads and rows chosen), which the device now owns; the model stays the caller's.</summary>
    public CpuDevice(InferenceEngine engine, int maxSessions = 1024 + 64) : this(engine.Threads, engine.MaxRows, maxSessions) =>
        Use(engine, owned: null);

    public string Kind => DeviceKind;

    public DeviceModel? Model => _model;

    public DeviceCapacity Capacity => new(_maxBatch, _maxSessions);

    public DeviceHealth Health
    {
        get
        {
            lock (_gate)
                return _disposed ? new(DeviceStatus.Disposed, "disposed")
                    : _engine is null ? new(DeviceStatus.Unloaded, "no model loaded")
                    : _fault is { } fault ? new(DeviceStatus.Faulted, fault)
                    : new(DeviceStatus.Ready, $"{_engine.Kernel.GetType().Name}, {_engine.Threads} threads");
        }
    }

    public DeviceCounters Counters => new(Interlocked.Read(ref _tokens), Interlocked.Read(ref _steps),
        TimeSpan.FromTicks(Interlocked.Read(ref _busyTicks)), Joules: null);

    public Task<DeviceModel> LoadAsync(ModelSource source, CancellationToken cancellationToken = default) =>
        // Converting a checkpoint takes seconds for 370M: off the caller's thread.
        Task.Run(() =>
        {
            var model = Open(source);
            try
            {
                if (source.Checksum is { } expected && !string.Equals(expected, model.IdentityHex, StringComparison.OrdinalIgnoreCase))
                    throw new DeviceRequestException(DeviceFault.BadModel, $"model {source}: identity {model.IdentityHex}, expected checksum {expected}");
                cancellationToken.ThrowIfCancellationRequested();
                return Use(new InferenceEngine(model, threads: _threads, maxRows: _maxBatch), owned: model);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }, cancellationToken);

    private static EngineModel Open(ModelSource source)
    {
        if (!Directory.Exists(source.Location))
            throw new DeviceRequestException(DeviceFault.BadModel, $"model {source}: the cpu device loads local folders only, and this is none (resolve store URIs into a folder first)");
        try
        {
            string serving = Path.Combine(source.Location, ServingFile.FileName);
            if (File.Exists(serving))
                return ServingFile.Open(serving);
            using var checkpoint = ModelFolder.Open(source.Location);
            return ServingConverter.FromCheckpoint(checkpoint.Weights, checkpoint.Config, source.Location);
        }
        catch (MatMulFreeException e)
        {
            throw new DeviceRequestException(DeviceFault.BadModel, $"model {source}: {e.Message}");
        }
    }

    private DeviceModel Use(InferenceEngine engine, EngineModel? owned)
    {
        var config = engine.Model.Config;
        var info = new DeviceModel(engine.Model.IdentityHex, config.VocabSize, config.EosTokenId, engine.CreateState().Serialize().Length);
        lock (_gate)
        {
            if (_disposed)
            {
                engine.Dispose();
                throw new DeviceUnavailableException("cpu device is disposed");
            }
            Unload();
            (_engine, _owned, _model, _fault) = (engine, owned, info, null);
        }
        return info;
    }

    /// <summary>States held now: what the batcher's tests read to see that no working copy leaks.</summary>
    internal int SessionCount
    {
        get { lock (_gate) return _sessions.Count; }
    }

    public DeviceSession CreateSession()
    {
        lock (_gate)
            return Add(Loaded.CreateState());
    }

    public DeviceSession ImportSession(ReadOnlySpan<byte> state)
    {
        lock (_gate)
        {
            var engine = Loaded;
            RecurrentState imported;
            try
            {
                imported = RecurrentState.Deserialize(state, engine.Model.Identity, "imported state");
            }
            catch (RecurrentStateException e)
            {
                throw new DeviceRequestException(DeviceFault.BadState, e.Message);
            }
            var expected = engine.CreateState();
            if (imported.Layers != expected.Layers || imported.Width != expected.Width)
                throw new DeviceRequestException(DeviceFault.BadState,
                    $"imported state: {imported.Layers} x {imported.Width}, model {engine.Model.IdentityHex} has {expected.Layers} x {expected.Width}");
            return Add(imported);
        }
    }

    public ExportedState ExportSession(DeviceSession session)
    {
        lock (_gate)
        {
            var state = Find(session);
            return new ExportedState(state.Serialize(), state.Tokens);
        }
    }

    public DeviceSession CopySession(DeviceSession session)
    {
        lock (_gate)
            return Add(Find(session).Clone());
    }

    public void DropSession(DeviceSession session)
    {
        lock (_gate)
            if (!_sessions.Remove(session.Id))
                throw Unknown(session);
    }

    public void Prefill(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int[]> prompts, Span<float> logits)
    {
        lock (_gate)
        {
            var engine = Loaded;
            int v = engine.Model.Config.VocabSize;
            CheckBatch(sessions, prompts.Length, logits.Length, v, "prefill");
            long tokens = 0;
            for (int i = 0; i < prompts.Length; i++)
            {
                if (prompts[i] is not { Length: > 0 } prompt)
                    throw new DeviceRequestException(DeviceFault.EmptyPrompt, $"prefill row {i} ({sessions[i]}): the prompt has no tokens");
                CheckTokens(prompt, v, $"prefill row {i}");
                tokens += prompt.Length;
            }
            var states = Resolve(sessions);
            long started = Stopwatch.GetTimestamp();
            try
            {
                for (int i = 0; i < states.Length; i++)
                    engine.Prefill(states[i], prompts[i], logits.Slice(i * v, v));
            }
            catch (Exception e) when (MarkFaulted(e)) { }
            finally
            {
                states.Clear(); // a dropped session's state must not live on in the scratch rows
            }
            Account(started, tokens, steps: 0);
        }
    }

    public void Decode(ReadOnlySpan<DeviceSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        lock (_gate)
        {
            var engine = Loaded;
            int v = engine.Model.Config.VocabSize;
            CheckBatch(sessions, tokens.Length, logits.Length, v, "decode");
            CheckTokens(tokens, v, "decode");
            var states = Resolve(sessions);
            long started = Stopwatch.GetTimestamp();
            try
            {
                engine.DecodeBatch(states, tokens, logits);
            }
            catch (Exception e) when (MarkFaulted(e)) { }
            finally
            {
                states.Clear(); // a dropped session's state must not live on in the scratch rows
            }
            Account(started, tokens.Length, steps: 1);
        }
    }

    /// <summary>Input was checked before: an engine failure now is the device's, and marks it faulted for the router (the exception goes on).</summary>
    private bool MarkFaulted(Exception e)
    {
        _fault = $"{e.GetType().Name}: {e.Message}";
        return false;
    }

    private void Account(long started, long tokens, long steps)
    {
        Interlocked.Add(ref _busyTicks, Stopwatch.GetElapsedTime(started).Ticks);
        Interlocked.Add(ref _tokens, tokens);
        Interlocked.Add(ref _steps, steps);
    }

    private void CheckBatch(ReadOnlySpan<DeviceSession> sessions, int rows, int logitsLength, int vocab, string what)
    {
        if (sessions.Length != rows)
            throw new DeviceRequestException(DeviceFault.BatchMismatch, $"{what}: {sessions.Length} sessions but {rows} inputs");
        if (rows > _maxBatch)
            throw new DeviceRequestException(DeviceFault.BatchTooLarge, $"{what}: a batch of {rows} sessions is above this device's capacity of {_maxBatch}");
        if (logitsLength != (long)rows * vocab)
            throw new DeviceRequestException(DeviceFault.BatchMismatch, $"{what}: logits hold {logitsLength} floats, {rows} rows of vocabulary {vocab} need {(long)rows * vocab}");
        _seen.Clear();
        foreach (var s in sessions)
            if (!_seen.Add(s.Id))
                throw new DeviceRequestException(DeviceFault.DuplicateSession, $"{what}: {s} appears twice in one batch (a session advances one token per step)");
    }

    private static void CheckTokens(ReadOnlySpan<int> tokens, int vocab, string what)
    {
        foreach (int id in tokens)
            if ((uint)id >= (uint)vocab)
                throw new DeviceRequestException(DeviceFault.TokenOutOfVocabulary, $"{what}: token id {id} is outside the vocabulary [0, {vocab})");
    }

    private Span<RecurrentState> Resolve(ReadOnlySpan<DeviceSession> sessions)
    {
        var states = _rows.AsSpan(0, sessions.Length);
        for (int i = 0; i < states.Length; i++)
            states[i] = Find(sessions[i]);
        return states;
    }

    private InferenceEngine Loaded
    {
        get
        {
            if (_disposed) throw new DeviceUnavailableException("cpu device is disposed");
            return _engine ?? throw new DeviceRequestException(DeviceFault.NotLoaded, "cpu device: no model loaded");
        }
    }

    private RecurrentState Find(DeviceSession session)
    {
        _ = Loaded;
        return _sessions.GetValueOrDefault(session.Id) ?? throw Unknown(session);
    }

    private static DeviceRequestException Unknown(DeviceSession session) =>
        new(DeviceFault.UnknownSession, $"{session} is not held by this device (never created, or dropped)");

    private DeviceSession Add(RecurrentState state)
    {
        if (_sessions.Count >= _maxSessions)
            throw new DeviceRequestException(DeviceFault.TooManySessions, $"cpu device holds {_sessions.Count} sessions, its capacity (drop one first)");
        var session = new DeviceSession(++_nextId);
        _sessions.Add(session.Id, state);
        return session;
    }

    private void Unload()
    {
        _sessions.Clear();
        _engine?.Dispose();
        _owned?.Dispose();
        (_engine, _owned, _model) = (null, null, null);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            Unload();
            _disposed = true;
        }
    }
}
