namespace MatMulFree.Storage;

/// <summary>
/// Where things live in a store:
/// <c>models/{name}/{version}/</c> (config.json, weights, tokenizer, manifest.json) and
/// <c>runs/{run}/checkpoints/{step}/</c> (weights, optimizer and RNG state, data-loader position,
/// training config, metrics, manifest.json) with the run's pointer <c>runs/{run}/latest</c>.
/// </summary>
public static class StoreLayout
{
    public const string Models = "models";
    public const string Runs = "runs";
    public const string ManifestFile = "manifest.json";

    /// <summary>Created, only if absent, before a snapshot\'s first file: whoever creates it owns the folder.</summary>
    public const string ClaimFile = ".claim";

    public static string Model(string name) => $"{Models}/{BlobPath.ValidateName(name, "model name")}";

    public static string ModelVersion(string name, string version) => $"{Model(name)}/{BlobPath.ValidateName(version, "model version")}";

    public static string Run(string run) => $"{Runs}/{BlobPath.ValidateName(run, "run name")}";

    public static string Checkpoints(string run) => $"{Run(run)}/checkpoints";

    public static string Checkpoint(string run, long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return $"{Checkpoints(run)}/{step}";
    }

    public static string Latest(string run) => $"{Run(run)}/latest";

    public static string Manifest(string snapshot) => $"{snapshot}/{ManifestFile}";
}
