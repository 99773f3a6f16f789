namespace MatMulFree.Core;

/// <summary>A model config that is malformed, incomplete or asks for an unsupported feature.</summary>
public sealed class ModelConfigException(string message) : MatMulFreeException(message);
