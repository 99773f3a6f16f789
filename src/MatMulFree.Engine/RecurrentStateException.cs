using MatMulFree.Core;

namespace MatMulFree.Engine;

/// <summary>A serialized recurrent state that cannot be loaded: corrupted, truncated, another version, or another model's.</summary>
public sealed class RecurrentStateException : MatMulFreeException
{
    public RecurrentStateException(string message) : base(message) { }
}
