using MatMulFree.Core;

namespace MatMulFree.Training;

/// <summary>
/// Bad training input: a flag out of range, a data set that does not fit the model, a checkpoint
/// that belongs to another run. The message names the flag, file or key at fault.
/// </summary>
public sealed class TrainingException : MatMulFreeException
{
    public TrainingException(string message) : base(message) { }
    public TrainingException(string message, Exception inner) : base(message, inner) { }
}
