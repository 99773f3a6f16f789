using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace MatMulFree.Storage;

/// <summary>
/// Local copies of model versions pulled from stores, for serving, under
/// <c>{root}/{store}/{name}/{version}/{manifest}/</c>: the same name and version in two stores, or
/// a version deleted and pushed again, never share a copy. A copy is downloaded into a temporary
/// folder beside its place and renamed into it only once every file matched the manifest, so a
/// failed pull leaves nothing a later run could take for a model; and it is checked against the
/// manifest again before every use, a copy that no longer matches being downloaded anew. Two
/// processes resolving one version at once each download; the first rename wins and the other
/// uses the winner's (verified) copy; the temporary folder of a process killed mid-download is
/// removed by the next resolve. Every folder is the owner's alone (0700).
/// </summary>
public sealed class ModelCache(string root)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OthersBits = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    // The process id in a temporary folder's name tells an abandoned download from one under way.
    private const string PartialPrefix = BlobPath.ReservedPrefix + "partial-";
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromHours(1);

    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The user's cache directory: <c>$XDG_CACHE_HOME/mmf/models</c>, else <c>~/.cache/mmf/models</c>.</summary>
    public static string DefaultRoot =>
        RootFor(Environment.GetEnvironmentVariable("XDG_CACHE_HOME"), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>The XDG base directory rule: <paramref name="xdgCacheHome"/> if it is an absolute path, else <c>~/.cache</c>.</summary>
    public static string RootFor(string? xdgCacheHome, string home) =>
        Path.Combine(xdgCacheHome is { Length: > 0 } cache && Path.IsPathRooted(cache) ? cache : Path.Combine(home, ".cache"), "mmf", "models");

    /// <summary>Where the copy of <paramref name="version"/> from the store at <paramref name="storeLocation"/> lives.</summary>
    public string FolderFor(string storeLocation, ModelVersion version) =>
        Path.Combine(Root, Key(storeLocation), version.Name, version.Version, version.Manifest.Sha256()[..16]);

    /// <summary>
    /// A local folder holding exactly the files of <paramref name="version"/>, each matching its
    /// manifest: the cached copy if it still matches, else one downloaded now.
    /// </summary>
    /// <exception cref="BlobIntegrityException">A blob in the store does not match the manifest (nothing is cached).</exception>
    public async Task<string> ResolveAsync(ModelStore store, ModelVersion version, Action<string>? notice = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string folder = FolderFor(store.Blobs.Location, version);
        string parent = Path.GetDirectoryName(folder)!;
        CreatePrivateRoot();
        CreatePrivate(parent);
        RemoveAbandoned(parent);
        if (Directory.Exists(folder))
        {
            if (await FirstMismatchAsync(folder, version.Manifest, cancellationToken) is not { } mismatch)
                return folder;
            notice?.Invoke($"cached copy {folder} does not match its manifest ('{mismatch.Path}': {mismatch.Describe()}); downloading it again");
            Discard(folder, parent);
        }

        string temporary = Path.Combine(parent, $"{PartialPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            notice?.Invoke($"pulling model {version.Name} version {version.Version} from {store.Blobs.Location} into {folder}");
            CreatePrivate(temporary);
            await SnapshotReader.DownloadAsync(store.Blobs, version.Prefix, version.Manifest, temporary, progress, cancellationToken);
            // rename(2) onto a folder that is not empty fails: whoever renamed first wins.
            try
            {
                Directory.Move(temporary, folder);
            }
            catch (IOException) when (Directory.Exists(folder))
            {
                notice?.Invoke($"another process cached {folder} first; using its copy");
            }
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
        return folder;
    }

    private static async Task<FileCheck?> FirstMismatchAsync(string folder, Manifest manifest, CancellationToken cancellationToken)
    {
        try
        {
            // Strict: a file the manifest does not list (a tokenizer.json, say) would change what is served.
            return (await SnapshotFolder.VerifyAsync(folder, manifest, cancellationToken)).FirstOrDefault(c => c.Status != FileCheckStatus.Ok);
        }
        catch (IOException) when (!Directory.Exists(folder))
        {
            // Another process discarded it while it was being read.
            return new FileCheck(StoreLayout.ManifestFile, FileCheckStatus.Missing, 0, null, null, null);
        }
    }

    // Renamed out of the way first, so that a process just verifying it sees it whole or not at all.
    private static void Discard(string folder, string parent)
    {
        string doomed = Path.Combine(parent, $"{BlobPath.ReservedPrefix}discard-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(folder, doomed);
        }
        catch (DirectoryNotFoundException)
        {
            return; // another process discarded it first
        }
        Directory.Delete(doomed, recursive: true);
    }

    /// <summary>
    /// Temporary folders of processes killed mid-download: nobody will finish or remove them. Only
    /// after an hour without a write, too, since a process of another PID namespace (a container
    /// sharing the folder) looks gone from here while it downloads.
    /// </summary>
    private static void RemoveAbandoned(string parent)
    {
        foreach (string folder in Directory.EnumerateDirectories(parent, PartialPrefix + "*"))
        {
            if (!int.TryParse(Path.GetFileName(folder)[PartialPrefix.Length..].Split('-')[0], out int pid) || IsRunning(pid)
                || LastWriteUtc(folder) > DateTime.UtcNow - AbandonedAfter)
                continue;
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // Another process is removing it too.
            }
        }
    }

    private static DateTime LastWriteUtc(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Select(File.GetLastWriteTimeUtc)
            .Append(Directory.GetLastWriteTimeUtc(folder)).Max();

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private void CreatePrivateRoot()
    {
        CreatePrivate(Root);
        if (OperatingSystem.IsWindows() || (File.GetUnixFileMode(Root) & OthersBits) == 0) return;
        try
        {
            File.SetUnixFileMode(Root, OwnerOnly);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StoreException($"model cache {Root} is open to other users and its mode cannot be changed to 0700 by this user: {e.Message}", e);
        }
    }

    // One level at a time: Directory.CreateDirectory(path, mode) gives the mode to the last level only.
    private static void CreatePrivate(string folder)
    {
        if (Directory.Exists(folder)) return;
        CreatePrivate(Path.GetDirectoryName(folder)!);
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
        else Directory.CreateDirectory(folder, OwnerOnly);
    }

    private static string Key(string storeLocation) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(storeLocation)))[..16];
}
