namespace MatMulFree.Serving;

/// <summary>
/// The device sessions of the sessions a batcher serves, so a state does not travel on every
/// turn: least recently used first out when full, and dropped from the device as it goes. An entry
/// is valid only for the session incarnation and turn count it was stored at. Used by the batching
/// thread alone (no locks).
/// </summary>
public sealed class StateCache(int capacity, Action<DeviceSession> drop)
{
    private readonly Dictionary<string, LinkedListNode<Entry>> _byId = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _lru = new();

    public int Count => _byId.Count;

    public DeviceSession? Find(string sessionId, Guid incarnation, int version)
    {
        if (!_byId.TryGetValue(sessionId, out var node))
            return null;
        if (node.Value.Incarnation != incarnation || node.Value.Version != version)
        {
            Remove(sessionId);
            return null;
        }
        _lru.Remove(node);
        _lru.AddFirst(node);
        return node.Value.Session;
    }

    public void Store(string sessionId, Guid incarnation, int version, DeviceSession session)
    {
        Remove(sessionId);
        _byId[sessionId] = _lru.AddFirst(new Entry(sessionId, incarnation, version, session));
        while (_byId.Count > capacity && _lru.Last is { } oldest)
            Remove(oldest.Value.SessionId);
    }

    public void Remove(string sessionId)
    {
        if (_byId.Remove(sessionId, out var node))
        {
            _lru.Remove(node);
            drop(node.Value.Session);
        }
    }

    private sealed record Entry(string SessionId, Guid Incarnation, int Version, DeviceSession Session);
}
