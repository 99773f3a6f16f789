namespace MatMulFree.Core.SafeTensors;

/// <summary>A safetensors file or checkpoint that is malformed or lacks what was asked of it.</summary>
public sealed class SafeTensorsException(string message) : MatMulFreeException(message);
