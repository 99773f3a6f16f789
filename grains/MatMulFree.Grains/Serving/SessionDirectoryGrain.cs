using Orleans.Runtime;
namespace MatMulFree.Grains.Serving;

/// <summary>
/// Owns the list of one owner's session ids, persisted beside the sessions, so `mmf sessions ls`
/// and GET /v1/sessions need not scan storage. Called by <see cref="SessionGrain"/> on create and delete.
/// </summary>
public sealed class SessionDirectoryGrain(
    [PersistentState("directory", ServingStorage.Sessions)] IPersistentState<SortedSet<string>> ids) : Grain, ISessionDirectoryGrain
{
    public async Task AddAsync(string sessionId)
    {
        if (ids.State.Add(sessionId))
            await ids.WriteStateAsync();
    }

    public async Task RemoveAsync(string sessionId)
    {
        if (ids.State.Remove(sessionId))
            await ids.WriteStateAsync();
    }

    public Task<string[]> ListAsync() => Task.FromResult(ids.State.ToArray());
}
