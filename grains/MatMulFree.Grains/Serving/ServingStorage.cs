namespace MatMulFree.Grains.Serving;

/// <summary>Names of the grain storage providers the serving grains use (the silo host registers them).</summary>
public static class ServingStorage
{
    /// <summary>Session records and the per-owner session directories.</summary>
    public const string Sessions = "sessions";
}
