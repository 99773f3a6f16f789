namespace MatMulFree.Serving;

/// <summary>
/// Where a device gets its model: a local folder (a converted model.mmfserve or a checkpoint) or a
/// store URI with a version, and the model identity expected (the engine's 16-hex-digit
/// <c>IdentityHex</c>), checked after loading so two devices never serve different weights under
/// one name. A device that cannot reach stores (the CPU device: the silo resolves store URIs into
/// its model cache first) refuses a URI by name.
/// </summary>
public sealed record ModelSource(string Location, string? Version = null, string? Checksum = null)
{
    public static ModelSource Folder(string path, string? checksum = null) => new(path, null, checksum);

    public override string ToString() => Version is null ? Location : $"{Location} (version {Version})";
}

/// <summary>What a device loaded: the model identity (states carry it), vocabulary, end-of-text token and the size of a state in bytes.</summary>
public sealed record DeviceModel(string Identity, int VocabSize, int EosTokenId, int StateBytes);
