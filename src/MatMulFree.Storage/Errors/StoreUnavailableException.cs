namespace MatMulFree.Storage;

/// <summary>The store could not be reached (refused, timed out, retries exhausted).</summary>
public sealed class StoreUnavailableException : StoreException
{
    public StoreUnavailableException(string store, string operation, Exception inner)
        : base($"blob store {store} is unreachable ({operation}): {Innermost(inner).Message}", inner)
    {
        Store = store;
    }

    public string Store { get; }

    private static Exception Innermost(Exception e)
    {
        while (true)
        {
            if (e is AggregateException { InnerExceptions.Count: > 0 } a) e = a.InnerExceptions[^1];
            else if (e.InnerException is not null) e = e.InnerException;
            else return e;
        }
    }
}
