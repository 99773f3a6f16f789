namespace MatMulFree.Grains.Serving;

/// <summary>The session ids of one owner (key: the owner's id), for listing.</summary>
public interface ISessionDirectoryGrain : IGrainWithStringKey
{
    Task AddAsync(string sessionId);
    Task RemoveAsync(string sessionId);
    Task<string[]> ListAsync();
}
