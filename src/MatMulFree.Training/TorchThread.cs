using System.Collections.Concurrent;

namespace MatMulFree.Training;

/// <summary>
/// One dedicated thread that runs every TorchSharp call of a replica, in order. TorchSharp's
/// dispose scopes and no-grad flag are per thread, so a step must never span an <c>await</c>:
/// callers (grain turns) hand the synchronous step over here and await its completion, which
/// keeps both the Orleans scheduler free and the model touched by one thread only.
/// </summary>
public sealed class TorchThread : IDisposable
{
    private readonly BlockingCollection<Action> work = new();
    private readonly Thread thread;

    public TorchThread(string name)
    {
        thread = new Thread(() =>
        {
            foreach (Action item in work.GetConsumingEnumerable()) item();
        }) { Name = name, IsBackground = true };
        thread.Start();
    }

    public Task<T> RunAsync<T>(Func<T> step)
    {
        // Continuations run on the awaiting side (a grain's scheduler), never on this thread.
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        work.Add(() =>
        {
            try { done.SetResult(step()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    public Task RunAsync(Action step) => RunAsync(() => { step(); return true; });

    /// <summary>Lets queued work finish, then ends the thread.</summary>
    public void Dispose()
    {
        work.CompleteAdding();
        if (Thread.CurrentThread != thread) thread.Join();
        work.Dispose();
    }
}
