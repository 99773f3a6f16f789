namespace MatMulFree.Storage;

/// <summary>A complete (manifested) version of a model in a store.</summary>
public sealed record ModelVersion(string Name, string Version, string Prefix, Manifest Manifest);
