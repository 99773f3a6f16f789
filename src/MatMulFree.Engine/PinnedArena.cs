namespace MatMulFree.Engine;

/// <summary>
/// Keeps pinned arrays (on the pinned object heap) alive for as long as raw pointers into them
/// are in use: the in-memory counterpart of a memory-mapped serving file.
/// </summary>
internal sealed unsafe class PinnedArena : IDisposable
{
    private readonly List<Array> _arrays = [];

    public byte* Allocate(long bytes)
    {
        var array = GC.AllocateUninitializedArray<byte>(checked((int)Math.Max(bytes, 1)), pinned: true);
        _arrays.Add(array);
        fixed (byte* p = array)
            return p;
    }

    public void Dispose() => _arrays.Clear();
}
