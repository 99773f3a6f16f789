namespace MatMulFree.Serving.Library.Tests;

/// <summary>The batcher's cache of device sessions: whatever leaves it leaves the device too.</summary>
public sealed class StateCacheTests
{
    private readonly List<DeviceSession> _dropped = [];

    [Fact]
    public void StateCache_Store_EvictsTheLeastRecentlyUsedAndDropsItFromTheDevice()
    {
        var cache = new StateCache(2, _dropped.Add);
        cache.Store("a", Guid.Empty, 1, new DeviceSession(1));
        cache.Store("b", Guid.Empty, 1, new DeviceSession(2));
        Assert.Equal(new DeviceSession(1), cache.Find("a", Guid.Empty, 1)); // "b" is now the oldest
        cache.Store("c", Guid.Empty, 1, new DeviceSession(3));

        Assert.Equal([new DeviceSession(2)], _dropped);
        Assert.Null(cache.Find("b", Guid.Empty, 1));
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void StateCache_Store_ReplacingASessionsStateDropsTheOldOne()
    {
        var cache = new StateCache(4, _dropped.Add);
        cache.Store("a", Guid.Empty, 1, new DeviceSession(1));
        cache.Store("a", Guid.Empty, 2, new DeviceSession(7));

        Assert.Equal([new DeviceSession(1)], _dropped);
        Assert.Equal(new DeviceSession(7), cache.Find("a", Guid.Empty, 2));
    }

    [Fact]
    public void StateCache_Find_AnotherIncarnationOrVersionMissesAndDropsTheStaleEntry()
    {
        var cache = new StateCache(4, _dropped.Add);
        cache.Store("a", Guid.Empty, 3, new DeviceSession(1));
        cache.Store("b", Guid.Empty, 3, new DeviceSession(2));

        Assert.Null(cache.Find("a", Guid.Empty, 2));
        Assert.Null(cache.Find("b", Guid.NewGuid(), 3));
        Assert.Equal([new DeviceSession(1), new DeviceSession(2)], _dropped);
        Assert.Equal(0, cache.Count);
    }
}
