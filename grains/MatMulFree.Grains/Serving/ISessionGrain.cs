namespace MatMulFree.Grains.Serving;

/// <summary>One conversation (key: the session id). Called by the silo's HTTP API and by tests.</summary>
public interface ISessionGrain : IGrainWithStringKey
{
    /// <exception cref="SessionConflictException">The session exists already.</exception>
    Task<SessionInfo> CreateAsync(SessionSpec options);

    /// <summary>Null when there is no such session.</summary>
    Task<SessionInfo?> GetAsync();

    /// <summary>False when there was no such session.</summary>
    Task<bool> DeleteAsync();

    /// <summary>Gives the session to <paramref name="to"/> if <paramref name="from"/> owns it, and leaves <paramref name="from"/>'s directory either way (a change of owner-id scheme).</summary>
    Task TransferAsync(string from, string to);

    /// <summary>
    /// Runs one turn, streaming the generated tokens. The state is persisted before the last event
    /// is delivered; a cancelled or failed turn leaves the last completed state.
    /// </summary>
    [ResponseTimeout("00:10:00")]
    IAsyncEnumerable<TurnEvent> TurnAsync(TurnInput input, CancellationToken cancellationToken = default);
}
