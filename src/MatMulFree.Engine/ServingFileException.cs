using MatMulFree.Core;

namespace MatMulFree.Engine;

/// <summary>A serving file (or the tensors of a model in serving form) is missing, truncated, corrupted or of another version; the message names the file and tensor.</summary>
public sealed class ServingFileException : MatMulFreeException
{
    public ServingFileException(string message) : base(message) { }
    public ServingFileException(string message, Exception inner) : base(message, inner) { }
}
