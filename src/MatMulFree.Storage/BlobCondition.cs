namespace MatMulFree.Storage;

/// <summary>The precondition of a write: none, "only if absent", or "only if the ETag is still this".</summary>
public sealed record BlobCondition
{
    private BlobCondition(string? ifMatch, bool ifAbsent)
    {
        IfMatchETag = ifMatch;
        IfAbsent = ifAbsent;
    }

    public static BlobCondition None { get; } = new(null, false);

    /// <summary>Create only: loses if the blob already exists.</summary>
    public static BlobCondition IfNotExists { get; } = new(null, true);

    /// <summary>Replace only if nobody wrote the blob since it had this ETag.</summary>
    public static BlobCondition IfMatch(string etag)
    {
        ArgumentException.ThrowIfNullOrEmpty(etag);
        return new(etag, false);
    }

    public string? IfMatchETag { get; }
    public bool IfAbsent { get; }

    public override string ToString() =>
        IfAbsent ? "if-not-exists" : IfMatchETag is null ? "unconditional" : $"if-match {IfMatchETag}";
}
