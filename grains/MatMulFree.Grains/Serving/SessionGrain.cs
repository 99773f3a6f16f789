using System.Diagnostics;
using MatMulFree.Grains.Serving.Backends;
using Orleans.Runtime;

namespace MatMulFree.Grains.Serving;

/// <summary>
/// Owns one conversation: its model, owner, sampling settings and the durable copy of its
/// recurrent state (bytes from the engine's serializer), written after every completed turn. A
/// turn goes to a backend picked by the router (preferring the last one, whose cache already holds
/// the state); if that backend disappears mid-turn, the turn is redone on another from the durable
/// state, and since sampling is seeded by (seed, turn) the tokens already streamed are the same and
/// are skipped. Called by the HTTP API.
/// </summary>
public sealed class SessionGrain(
    [PersistentState("session", ServingStorage.Sessions)] IPersistentState<SessionRecord> record,
    ServingMetrics metrics) : Grain, ISessionGrain, IGrainMigrationParticipant
{
    private const int MaxAttempts = 3;
    private const string BackendKeyName = "backend";

    private string? _backend;
    private bool _turnRunning;

    private string Id => this.GetPrimaryKeyString();

    public async Task<SessionInfo> CreateAsync(SessionSpec options)
    {
        if (record.RecordExists || record.State.Incarnation != Guid.Empty)
            throw new SessionConflictException($"session {Id} exists already");
        var now = DateTimeOffset.UtcNow;
        record.State = new SessionRecord
        {
            Model = options.Model, Owner = options.Owner, Sampling = options.Sampling, Incarnation = Guid.NewGuid(),
            Created = now, Updated = now, Ephemeral = options.Ephemeral,
        };
        if (!options.Ephemeral)
        {
            await record.WriteStateAsync();
            await GrainFactory.GetGrain<ISessionDirectoryGrain>(options.Owner).AddAsync(Id);
        }
        return Describe();
    }

    public Task<SessionInfo?> GetAsync() => Task.FromResult(Exists ? Describe() : null);

    public async Task<bool> DeleteAsync()
    {
        if (!Exists)
            return false;
        if (!record.State.Ephemeral)
        {
            await GrainFactory.GetGrain<ISessionDirectoryGrain>(record.State.Owner).RemoveAsync(Id);
            await record.ClearStateAsync();
        }
        record.State = new SessionRecord();
        DeactivateOnIdle();
        return true;
    }

    public async Task TransferAsync(string from, string to)
    {
        if (Exists && record.State.Owner == from)
        {
            record.State.Owner = to;
            if (!record.State.Ephemeral)
            {
                await record.WriteStateAsync();
                await GrainFactory.GetGrain<ISessionDirectoryGrain>(to).AddAsync(Id);
            }
        }
        // Last, so a transfer cut short is found again and finished at the next start.
        await GrainFactory.GetGrain<ISessionDirectoryGrain>(from).RemoveAsync(Id);
    }

    public async IAsyncEnumerable<TurnEvent> TurnAsync(TurnInput input, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (!Exists)
            throw new SessionNotFoundException($"session {Id} does not exist");
        if (input.MaxTokens < 0)
            throw new ServingRequestException($"max_tokens must be ≥ 0, got {input.MaxTokens}");
        // Turns of one session are sequential: the grain interleaves enumerator calls, so guard explicitly.
        if (_turnRunning)
            throw new SessionConflictException($"session {Id} is already running a turn");
        _turnRunning = true;
        try
        {
            var s = record.State;
            int[] tokens = s.PendingToken >= 0 ? [s.PendingToken, .. input.Tokens] : input.Tokens;
            if (tokens.Length == 0)
                throw new ServingRequestException($"session {Id}: the message has no tokens");
            var started = Stopwatch.GetTimestamp();
            var turn = new BackendTurn(Id, s.Incarnation, s.Turns, null, tokens, input.MaxTokens, input.StopAtEos, s.Sampling, input.TopLogprobs);
            var excluded = new List<string>();
            int emitted = 0;
            for (int attempt = 1; ; attempt++)
            {
                _backend = await GrainFactory.GetGrain<IRouterGrain>(0).PickAsync(s.Model, _backend, [.. excluded]);
                var events = GrainFactory.GetGrain<IBackendGrain>(_backend).RunAsync(turn, cancellationToken);
                await using var e = events.GetAsyncEnumerator(cancellationToken);
                int seen = 0;
                Exception? lost = null;
                while (true)
                {
                    try
                    {
                        if (!await e.MoveNextAsync())
                            break;
                    }
                    catch (Exception error) when (IsBackendLoss(error, cancellationToken))
                    {
                        lost = error;
                        break;
                    }
                    var ev = e.Current;
                    if (ev.NeedState)
                        break;
                    if (++seen <= emitted)
                        continue; // replayed after a failover: already streamed, and identical by seeding
                    if (ev.FinalState is { } state)
                    {
                        await CommitAsync(state, ev.StateTokens, ev.FinishReason == null ? -1 : ev.Token);
                        if (ev.Token < 0)
                            yield break;
                    }
                    if (emitted++ == 0)
                        metrics.RecordTimeToFirstToken(s.Model, Stopwatch.GetElapsedTime(started));
                    yield return new TurnEvent(ev.Token, ev.FinishReason, ev.Logprobs);
                    if (ev.FinishReason is not null)
                        yield break;
                }
                if (attempt >= MaxAttempts)
                    throw new BackendUnavailableException($"session {Id}: turn failed on {attempt} backends; last: {lost?.Message ?? "state not cached"}");
                if (lost is not null)
                {
                    excluded.Add(_backend);
                    _backend = null;
                }
                // Redo from the durable state: on a new backend, or on the same one that lost its cache.
                turn = turn with { State = s.State };
            }
        }
        finally
        {
            _turnRunning = false;
        }
    }

    private async Task CommitAsync(byte[] state, long stateTokens, int pending)
    {
        var s = record.State;
        s.State = state;
        s.PendingToken = pending;
        s.Tokens = stateTokens + (pending >= 0 ? 1 : 0);
        s.Turns++;
        s.Updated = DateTimeOffset.UtcNow;
        if (!s.Ephemeral)
            await record.WriteStateAsync();
    }

    /// <summary>
    /// Failures of the backend, its silo or the transport, as opposed to errors of the request
    /// (bad input, a full queue) or the caller's own cancellation, which end the turn.
    /// </summary>
    private static bool IsBackendLoss(Exception error, CancellationToken cancellationToken) => error switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        BackendUnavailableException => true,
        Core.MatMulFreeException => false,
        _ => true,
    };

    private bool Exists => record.State.Incarnation != Guid.Empty;

    private SessionInfo Describe()
    {
        var s = record.State;
        return new SessionInfo(Id, s.Model, s.Owner, s.Sampling, s.Tokens, s.Turns, s.State?.Length ?? 0, s.Created, s.Updated, _backend, GrainContext.Address.SiloAddress?.ToParsableString());
    }

    public void OnDehydrate(IDehydrationContext dehydrationContext)
    {
        if (_backend is not null)
            dehydrationContext.TryAddValue(BackendKeyName, _backend);
    }

    public void OnRehydrate(IRehydrationContext rehydrationContext)
    {
        if (rehydrationContext.TryGetValue(BackendKeyName, out string? backend))
            _backend = backend;
    }
}
