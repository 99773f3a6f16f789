using MatMulFree.Core;

namespace MatMulFree.Engine;

/// <summary>Bad input to the inference engine: a flag, a token id, a session state, a model mismatch.</summary>
public class EngineException : MatMulFreeException
{
    public EngineException(string message) : base(message) { }
    public EngineException(string message, Exception inner) : base(message, inner) { }
}
