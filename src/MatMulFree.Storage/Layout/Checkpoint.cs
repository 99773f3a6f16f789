namespace MatMulFree.Storage;

/// <summary>A complete (manifested) checkpoint of a training run.</summary>
public sealed record Checkpoint(string Run, long Step, string Prefix, Manifest Manifest);
