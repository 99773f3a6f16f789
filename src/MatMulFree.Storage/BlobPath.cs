namespace MatMulFree.Storage;

/// <summary>
/// Rules shared by every store for blob paths and the names put into them, so that a path that
/// works on the file system also works on Azure and cannot escape the store's root.
/// </summary>
public static class BlobPath
{
    /// <summary>Names starting with this are the local store's own temp and lock files.</summary>
    internal const string ReservedPrefix = ".mmf-";

    public static string Validate(string path)
    {
        if (string.IsNullOrEmpty(path))
            throw new StoreLocationException("blob path is empty");
        if (path.StartsWith('/') || path.EndsWith('/') || path.Contains('\\') || path.Contains("//", StringComparison.Ordinal))
            throw new StoreLocationException($"blob path '{path}' must be relative, '/'-separated, with no empty segment");
        foreach (var segment in path.Split('/'))
        {
            if (segment is "." or "..")
                throw new StoreLocationException($"blob path '{path}' must not contain '.' or '..' segments");
            if (segment.StartsWith(ReservedPrefix, StringComparison.Ordinal))
                throw new StoreLocationException($"blob path '{path}': names starting with '{ReservedPrefix}' are reserved");
            if (segment.Any(char.IsControl))
                throw new StoreLocationException($"blob path '{path}' contains a control character");
        }
        return path;
    }

    /// <summary>A model name, version, or run name: one path segment of a safe alphabet.</summary>
    public static string ValidateName(string value, string what)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 128 || !char.IsAsciiLetterOrDigit(value[0])
            || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            throw new StoreLocationException(
                $"{what} '{value}' is not valid: use 1-128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");
        return value;
    }

    /// <summary>A prefix for listing: empty (everything) or a valid path ending with '/'.</summary>
    public static string Directory(string path)
    {
        path = path.Trim('/');
        return path.Length == 0 ? "" : Validate(path) + "/";
    }
}
