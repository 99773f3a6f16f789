using System.Net;
using Azure.Storage;
using Azure.Storage.Blobs;

namespace MatMulFree.Storage;

/// <summary>
/// A store plus a path inside it, parsed from what a user types (<c>--store</c>, <c>--to</c>,
/// <c>MMF_STORE</c>). Accepted forms:
/// <list type="bullet">
/// <item><c>file:///data/store/models/tiny</c> or a plain path: a local folder. The store's root is
/// the folder above the first <c>models</c> or <c>runs</c> segment (the whole path if there is
/// none), so the same URI names both the store and the model in it.</item>
/// <item><c>https://ACCOUNT.blob.core.windows.net/CONTAINER/path</c>, or path-style
/// <c>http://127.0.0.1:10000/devstoreaccount1/CONTAINER/path</c> for Azurite: credentials from a SAS
/// query string, else the well-known key for Azurite's <c>devstoreaccount1</c>, else the
/// <c>AZURE_STORAGE_KEY</c> environment variable.</item>
/// <item>A connection string (<c>UseDevelopmentStorage=true</c>, <c>AccountName=..;AccountKey=..</c>,
/// <c>BlobEndpoint=..</c>), with an optional <c>Container=NAME</c> (default <c>mmf</c>); paths then
/// come separately, relative to it.</item>
/// </list>
/// </summary>
public sealed class StoreLocation
{
    public const string EnvironmentVariable = "MMF_STORE";
    public const string DefaultContainer = "mmf";
    private const string DevAccount = "devstoreaccount1";
    private const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private static readonly string[] LayoutRoots = ["models", "runs"];

    private readonly Func<AzureBlobStoreOptions?, IBlobStore> open;

    private StoreLocation(string store, string path, Func<AzureBlobStoreOptions?, IBlobStore> open)
    {
        Store = store;
        Path = path;
        this.open = open;
    }

    /// <summary>The store, for messages (no credentials).</summary>
    public string Store { get; }

    /// <summary>'/'-separated path inside the store; empty for its root.</summary>
    public string Path { get; }

    public override string ToString() => Path.Length == 0 ? Store : $"{Store}/{Path}";

    /// <summary>The local folder store when nothing is configured: ~/.local/share/mmf/store on Linux.</summary>
    public static string DefaultStore =>
        System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "mmf", "store");

    public IBlobStore Open(AzureBlobStoreOptions? azureOptions = null) => open(azureOptions);

    /// <summary>The same store, <paramref name="relative"/> further down.</summary>
    public StoreLocation Child(string relative)
    {
        relative = relative.Trim('/');
        if (relative.Length == 0) return this;
        var path = Path.Length == 0 ? relative : $"{Path}/{relative}";
        return new StoreLocation(Store, BlobPath.Validate(path), open);
    }

    /// <summary>
    /// <paramref name="target"/> when it names a store by itself (a URI, an absolute path, a
    /// connection string); otherwise a path inside <paramref name="store"/>, else inside
    /// <c>$MMF_STORE</c>, else inside <see cref="DefaultStore"/>.
    /// </summary>
    public static StoreLocation Resolve(string? target, string? store)
    {
        if (!string.IsNullOrWhiteSpace(target) && NamesAStore(target.Trim())) return Parse(target);
        var baseStore = !string.IsNullOrWhiteSpace(store) ? store
            : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env ? env
            : DefaultStore;
        var location = ParseStoreRoot(baseStore);
        return string.IsNullOrWhiteSpace(target) ? location : location.Child(target.Trim());
    }

    /// <summary>Parses a store URI, a local path, or a connection string (see the class summary).</summary>
    public static StoreLocation Parse(string text)
    {
        text = text?.Trim() ?? "";
        if (text.Length == 0) throw new StoreLocationException("store location is empty");
        if (IsConnectionString(text)) return FromConnectionString(text);
        if (text.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
                throw new StoreLocationException($"store URI '{text}' is not a valid URI");
            return uri.Scheme switch
            {
                "file" => FromFolder(uri.LocalPath, splitAtLayout: true),
                "http" or "https" => FromBlobUri(uri),
                _ => throw new StoreLocationException(
                    $"store URI '{text}' has scheme '{uri.Scheme}': use file://, http(s):// (Azure Blob, Azurite) or a connection string"),
            };
        }
        return FromFolder(text, splitAtLayout: true);
    }

    private static StoreLocation ParseStoreRoot(string text)
    {
        text = text.Trim();
        // A store given on its own (--store, MMF_STORE) is the root even if its folder is called "models".
        if (!IsConnectionString(text) && !text.Contains("://", StringComparison.Ordinal))
            return FromFolder(text, splitAtLayout: false);
        return Parse(text);
    }

    private static bool NamesAStore(string text) =>
        text.Contains("://", StringComparison.Ordinal) || text.StartsWith('/') || text.StartsWith("./", StringComparison.Ordinal)
        || text.StartsWith("~/", StringComparison.Ordinal) || IsConnectionString(text);

    /// <summary>Whether <paramref name="text"/> is a connection string rather than a URI or a folder.</summary>
    public static bool IsConnectionString(string text) =>
        text.Contains('=') && !text.Contains("://", StringComparison.Ordinal)
        || text.StartsWith("UseDevelopmentStorage=", StringComparison.OrdinalIgnoreCase)
        || text.Contains("AccountName=", StringComparison.OrdinalIgnoreCase) || text.Contains("BlobEndpoint=", StringComparison.OrdinalIgnoreCase);

    private static StoreLocation FromFolder(string folder, bool splitAtLayout)
    {
        if (folder.StartsWith("~/", StringComparison.Ordinal))
            folder = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), folder[2..]);
        var full = System.IO.Path.GetFullPath(folder).TrimEnd('/');
        var segments = full.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var split = splitAtLayout ? Array.FindIndex(segments, s => LayoutRoots.Contains(s)) : -1;
        var root = split < 0 ? full : "/" + string.Join('/', segments[..split]);
        var path = split < 0 ? "" : string.Join('/', segments[split..]);
        var store = new LocalFolderBlobStore(root.Length == 0 ? "/" : root);
        return new StoreLocation(store.Location, path.Length == 0 ? "" : BlobPath.Validate(path), _ => store);
    }

    private static StoreLocation FromBlobUri(Uri uri)
    {
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        // Azurite and other emulators put the account in the path (path-style); Azure puts it in the host.
        var pathStyle = IPAddress.TryParse(uri.Host, out _) || uri.IsLoopback;
        var account = pathStyle ? segments.FirstOrDefault() : uri.Host.Split('.')[0];
        var skip = pathStyle ? 1 : 0;
        if (account is null || segments.Length <= skip)
            throw new StoreLocationException($"store URI '{Redact(uri)}' names no container: expected {(pathStyle ? "http://HOST:PORT/ACCOUNT/CONTAINER[/path]" : "https://ACCOUNT.blob.core.windows.net/CONTAINER[/path]")}");
        var containerName = ValidateContainer(segments[skip], $"store URI '{Redact(uri)}'");
        var path = string.Join('/', segments[(skip + 1)..]);
        var containerUri = new UriBuilder(uri) { Path = string.Join('/', segments[..(skip + 1)].Select(Uri.EscapeDataString)) }.Uri;
        var key = account == DevAccount ? DevKey : Environment.GetEnvironmentVariable("AZURE_STORAGE_KEY");
        Func<AzureBlobStoreOptions?, IBlobStore> open = options =>
        {
            var clientOptions = AzureBlobStore.ClientOptions(options);
            var client = uri.Query.Length > 1 ? new BlobContainerClient(containerUri, clientOptions)
                : key is { Length: > 0 } ? new BlobContainerClient(new UriBuilder(containerUri) { Query = "" }.Uri, new StorageSharedKeyCredential(account, key), clientOptions)
                : new BlobContainerClient(containerUri, clientOptions);
            return new AzureBlobStore(client, options);
        };
        var display = new UriBuilder(containerUri) { Query = "" }.Uri.AbsoluteUri.TrimEnd('/');
        return new StoreLocation(display, path.Length == 0 ? "" : BlobPath.Validate(path), open);
    }

    private static StoreLocation FromConnectionString(string text)
    {
        var parts = text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var containerName = DefaultContainer;
        var rest = new List<string>();
        foreach (var part in parts)
        {
            if (part.StartsWith("Container=", StringComparison.OrdinalIgnoreCase)) containerName = part["Container=".Length..];
            else rest.Add(part);
        }
        ValidateContainer(containerName, "store connection string");
        var connectionString = string.Join(';', rest);
        BlobServiceClient service;
        try
        {
            service = new BlobServiceClient(connectionString, AzureBlobStore.ClientOptions(null));
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            // The SDK's message never echoes the key; ours must not either.
            throw new StoreLocationException($"store connection string is not valid: {e.Message}", e);
        }
        var display = $"{service.Uri.AbsoluteUri.TrimEnd('/')}/{containerName}";
        return new StoreLocation(display, "", options =>
            new AzureBlobStore(new BlobServiceClient(connectionString, AzureBlobStore.ClientOptions(options)).GetBlobContainerClient(containerName), options));
    }

    private static string ValidateContainer(string name, string source)
    {
        if (name.Length < 3 || name.Length > 63 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            throw new StoreLocationException($"{source}: container '{name}' must be 3-63 characters of a-z 0-9 -");
        return name;
    }

    private static string Redact(Uri uri) => new UriBuilder(uri) { Query = "" }.Uri.AbsoluteUri;
}
