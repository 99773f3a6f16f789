namespace MatMulFree.Model;

/// <summary>
/// A custom autograd function of the model failed inside its backward pass (libtorch refused a saved
/// input, ran out of memory, ...). Not bad input: the step failed and may be retried from a checkpoint.
/// </summary>
public sealed class BackwardException : Exception
{
    public BackwardException(string function, Exception inner) : base($"backward of {function} failed: {inner.Message}", inner) => Function = function;

    /// <summary>The autograd function whose backward threw.</summary>
    public string Function { get; }
}
