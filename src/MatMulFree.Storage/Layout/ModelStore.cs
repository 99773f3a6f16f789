namespace MatMulFree.Storage;

/// <summary>
/// Models under <c>models/{name}/{version}/</c>: push a Hugging Face model folder as a new
/// version, pull one (verified) into a folder, list and verify versions. Versions are immutable:
/// the manifest is written only if absent, so a version is never overwritten once complete.
/// </summary>
public sealed class ModelStore(IBlobStore store)
{
    public IBlobStore Blobs => store;

    /// <summary>
    /// Uploads every file of <paramref name="folder"/> as <paramref name="version"/> (default: one
    /// more than the highest numeric version present, complete or not).
    /// </summary>
    public async Task<ModelVersion> PushAsync(string name, string folder, string? version = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var files = SnapshotFile.FromDirectory(folder);
        if (files.Count == 0) throw new StoreLocationException($"model folder '{folder}' has no files to push");
        version = version is null
            ? await ClaimNextVersionAsync(name, cancellationToken)
            : await ClaimVersionAsync(name, version, cancellationToken)
                ?? throw new BlobConflictException(store.Location, StoreLayout.ModelVersion(name, version),
                    $"model '{name}' version '{version}' already exists or is being pushed; versions are immutable, push another");
        var prefix = StoreLayout.ModelVersion(name, version);
        var manifest = await SnapshotWriter.WriteAsync(store, prefix, files,
            entries => new Manifest { Kind = "model", CreatedUtc = DateTimeOffset.UtcNow, Files = entries }, progress, cancellationToken);
        return new ModelVersion(name, version, prefix, manifest);
    }

    /// <summary>The complete versions of a model, oldest first.</summary>
    public async Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default)
    {
        var versions = new List<ModelVersion>();
        foreach (var version in await VersionFoldersAsync(name, manifestOnly: true, cancellationToken))
        {
            var prefix = StoreLayout.ModelVersion(name, version);
            if (await SnapshotReader.ReadManifestAsync(store, prefix, cancellationToken) is { } manifest)
                versions.Add(new ModelVersion(name, version, prefix, manifest));
        }
        return versions.OrderBy(v => v.Manifest.CreatedUtc).ThenBy(v => v.Version, StringComparer.Ordinal).ToList();
    }

    /// <summary>Names of the models that have at least one blob.</summary>
    public async Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var blob in store.ListAsync(StoreLayout.Models + "/", cancellationToken))
            names.Add(blob.Path.Split('/')[1]);
        return names.ToList();
    }

    /// <summary>The given version, or the newest complete one; a clear error when there is none.</summary>
    public async Task<ModelVersion> ResolveAsync(string name, string? version = null, CancellationToken cancellationToken = default)
    {
        if (version is not null)
        {
            var prefix = StoreLayout.ModelVersion(name, version);
            var manifest = await SnapshotReader.ReadManifestAsync(store, prefix, cancellationToken)
                ?? throw new BlobNotFoundException(store.Location, prefix, $"model '{name}' version '{version}' is not in store {store.Location} (no {StoreLayout.Manifest(prefix)})");
            return new ModelVersion(name, version, prefix, manifest);
        }
        var versions = await ListVersionsAsync(name, cancellationToken);
        return versions.Count > 0 ? versions[^1]
            : throw new BlobNotFoundException(store.Location, StoreLayout.Model(name), $"model '{name}' has no complete version in store {store.Location}");
    }

    /// <summary>Downloads a version into <paramref name="destination"/>, every file checked against the manifest.</summary>
    public async Task<ModelVersion> PullAsync(string name, string? version, string destination,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var resolved = await ResolveAsync(name, version, cancellationToken);
        await SnapshotReader.DownloadAsync(store, resolved.Prefix, resolved.Manifest, destination, progress, cancellationToken);
        return resolved;
    }

    public async Task<IReadOnlyList<FileCheck>> VerifyAsync(ModelVersion version, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        await SnapshotReader.VerifyAsync(store, version.Prefix, version.Manifest, progress, cancellationToken);

    // Two pushes must never upload into one version folder: each first creates the version's claim
    // blob with an only-if-absent write, and the loser of that race moves on to the next number.
    // A push that dies after claiming burns its number; the next push takes the one after.
    private const int ClaimAttempts = 16;

    private async Task<string> ClaimNextVersionAsync(string name, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < ClaimAttempts; attempt++)
        {
            var numbers = (await VersionFoldersAsync(name, manifestOnly: false, cancellationToken))
                .Select(v => long.TryParse(v, out var n) ? n : 0);
            string next = (numbers.DefaultIfEmpty(0).Max() + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (await ClaimVersionAsync(name, next, cancellationToken) is { } claimed) return claimed;
        }
        throw new BlobConflictException(store.Location, StoreLayout.Model(name),
            $"model '{name}': {ClaimAttempts} concurrent pushes took every version number tried; push again");
    }

    private async Task<string?> ClaimVersionAsync(string name, string version, CancellationToken cancellationToken)
    {
        string claim = $"{StoreLayout.ModelVersion(name, version)}/{StoreLayout.ClaimFile}";
        try
        {
            await store.PutAsync(claim, new MemoryStream(System.Text.Encoding.UTF8.GetBytes(DateTimeOffset.UtcNow.ToString("O"))),
                new PutOptions { Condition = BlobCondition.IfNotExists }, cancellationToken);
            return version;
        }
        catch (BlobConflictException)
        {
            return null;
        }
    }

    private async Task<IReadOnlyList<string>> VersionFoldersAsync(string name, bool manifestOnly, CancellationToken cancellationToken)
    {
        var prefix = StoreLayout.Model(name) + "/";
        var versions = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var blob in store.ListAsync(prefix, cancellationToken))
        {
            var rest = blob.Path[prefix.Length..].Split('/');
            if (rest.Length >= 2 && (!manifestOnly || rest is [_, StoreLayout.ManifestFile])) versions.Add(rest[0]);
        }
        return versions.ToList();
    }
}
