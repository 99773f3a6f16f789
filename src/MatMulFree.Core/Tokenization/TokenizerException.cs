namespace MatMulFree.Core.Tokenization;

/// <summary>A tokenizer file that cannot be used with the model at hand.</summary>
public sealed class TokenizerException(string message) : MatMulFreeException(message);
