using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace MatMulFree.Testing;

/// <summary>
/// Counts the objects of the watched types that the finalizer thread finalizes while the watch is
/// open, from the runtime's own FinalizeObject events. A native handle that is finalized rather
/// than disposed is freed on the finalizer thread at a moment nobody chose, possibly while native
/// code still uses it; a test asserts that a piece of code leaves none behind.
/// Finalization is process-wide: use it only in a test collection that runs alone.
/// </summary>
public sealed class FinalizerWatch : EventListener
{
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    // Field initializers run before the base constructor, which may already deliver events.
    private readonly ConcurrentDictionary<nint, Type> watched = new() { [typeof(Marker).TypeHandle.Value] = typeof(Marker) };
    private readonly ConcurrentDictionary<Type, int> counts = new();
    private readonly SemaphoreSlim markers = new(0);
    private volatile bool open;

    public FinalizerWatch(params Type[] types)
    {
        foreach (Type type in types)
        {
            watched[type.TypeHandle.Value] = type;
            counts[type] = 0;
        }
        Settle();
        open = true;
    }

    public override void Dispose()
    {
        base.Dispose();
        markers.Dispose();
    }

    /// <summary>Finalizes whatever is pending now, then stops counting and returns the counts.</summary>
    public IReadOnlyDictionary<Type, int> Close()
    {
        Settle();
        open = false;
        return counts.ToDictionary(c => c.Key, c => c.Value);
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == RuntimeSource) EnableEvents(source, EventLevel.Verbose, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName != "FinalizeObject" || e.PayloadNames is null || e.Payload is null) return;
        nint typeId = e.Payload[e.PayloadNames.IndexOf("TypeID")] switch
        {
            nint p => p,
            ulong u => (nint)u,
            long l => (nint)l,
            _ => 0,
        };
        if (!watched.TryGetValue(typeId, out Type? type)) return;
        if (type == typeof(Marker)) markers.Release();
        else if (open && counts.ContainsKey(type)) counts.AddOrUpdate(type, 1, (_, n) => n + 1);
    }

    // Two rounds: objects that a finalizer released become collectable only in the next one. The
    // events arrive later on a dispatch thread, but in the finalizer thread's order: once a marker
    // finalized after both rounds has been seen, so has every finalization before it.
    private void Settle()
    {
        for (int round = 0; round < 2; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        DropMarker();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        if (!markers.Wait(TimeSpan.FromMinutes(1)))
            throw new TimeoutException("the runtime's FinalizeObject events did not arrive: the watch cannot count finalizations");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void DropMarker() => _ = new Marker();

    private sealed class Marker
    {
        ~Marker() { }
    }
}
