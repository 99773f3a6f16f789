using MatMulFree.Engine;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// The recurrent states of the sessions a backend serves, so a state does not travel on every
/// turn: least recently used first out when full. An entry is valid only for the session
/// incarnation and turn count it was stored at. Used by the batching thread alone (no locks).
/// </summary>
public sealed class StateCache(int capacity)
{
    private readonly Dictionary<string, LinkedListNode<Entry>> _byId = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _lru = new();

    public int Count => _byId.Count;

    public long Bytes => _lru.Sum(e => e.State.PayloadBytes);

    public RecurrentState? Find(string sessionId, Guid incarnation, int version)
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
        return node.Value.State;
    }

    public void Store(string sessionId, Guid incarnation, int version, RecurrentState state)
    {
        Remove(sessionId);
        _byId[sessionId] = _lru.AddFirst(new Entry(sessionId, incarnation, version, state));
        while (_byId.Count > capacity && _lru.Last is { } oldest)
            Remove(oldest.Value.SessionId);
    }

    public void Remove(string sessionId)
    {
        if (_byId.Remove(sessionId, out var node))
            _lru.Remove(node);
    }

    private sealed record Entry(string SessionId, Guid Incarnation, int Version, RecurrentState State);
}
