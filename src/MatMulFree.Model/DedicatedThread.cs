namespace MatMulFree.Model;

/// <summary>
/// Runs TorchSharp work on a thread of its own. Dispose scopes and the no-grad flag are per
/// thread, so the caller's (a grain turn, a thread-pool thread that will run other work next)
/// are neither used nor disturbed, and concurrent callers never share either.
/// </summary>
internal static class DedicatedThread
{
    public static T Run<T>(string name, Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { result = work(); }
            catch (Exception e) { failure = e; }
        }) { Name = name, IsBackground = true };
        thread.Start();
        thread.Join();
        if (failure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        return result;
    }
}
