namespace MatMulFree.Core;

/// <summary>
/// Base of every error caused by bad input (a file, a config, a flag, a request): the message
/// names what is at fault, so the caller can report it as is and the user can fix it.
/// </summary>
public class MatMulFreeException : Exception
{
    public MatMulFreeException(string message) : base(message) { }
    public MatMulFreeException(string message, Exception inner) : base(message, inner) { }
}
