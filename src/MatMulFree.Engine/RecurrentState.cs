using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace MatMulFree.Engine;

/// <summary>
/// One session's recurrent state: h of every layer (L × d·e floats; 96 KiB for 370M, whatever the
/// conversation's length) and the number of tokens it has absorbed. Serializes to a versioned,
/// checksummed byte form stamped with the identity of the model it belongs to.
/// </summary>
public sealed class RecurrentState
{
    /// <summary>Format: "MMFSTATE", u32 version, u64 model identity, u32 layers, u32 width, i64 tokens, floats, u64 XxHash3 of all before.</summary>
    private static ReadOnlySpan<byte> Magic => "MMFSTATE"u8;
    public const int FormatVersion = 1;
    private const int HeaderBytes = 8 + 4 + 8 + 4 + 4 + 8;

    public RecurrentState(ulong modelIdentity, int layers, int width)
    {
        ModelIdentity = modelIdentity;
        Layers = layers;
        Width = width;
        H = new float[layers * width];
    }

    public ulong ModelIdentity { get; }
    public int Layers { get; }
    public int Width { get; }

    /// <summary>h of layer ℓ at [ℓ·Width, (ℓ+1)·Width).</summary>
    public float[] H { get; }

    /// <summary>Tokens absorbed since the state was created or reset.</summary>
    public long Tokens { get; internal set; }

    public Span<float> Layer(int index) => H.AsSpan(index * Width, Width);

    public long PayloadBytes => (long)H.Length * sizeof(float);

    public void Reset()
    {
        Array.Clear(H);
        Tokens = 0;
    }

    public RecurrentState Clone()
    {
        var copy = new RecurrentState(ModelIdentity, Layers, Width) { Tokens = Tokens };
        H.AsSpan().CopyTo(copy.H);
        return copy;
    }

    public byte[] Serialize()
    {
        var bytes = new byte[HeaderBytes + PayloadBytes + 8];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], FormatVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(span[12..], ModelIdentity);
        BinaryPrimitives.WriteInt32LittleEndian(span[20..], Layers);
        BinaryPrimitives.WriteInt32LittleEndian(span[24..], Width);
        BinaryPrimitives.WriteInt64LittleEndian(span[28..], Tokens);
        var payload = span.Slice(HeaderBytes, (int)PayloadBytes);
        if (BitConverter.IsLittleEndian)
            MemoryMarshal.AsBytes(H.AsSpan()).CopyTo(payload);
        else
            for (int i = 0; i < H.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(payload[(i * 4)..], H[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(span[^8..], XxHash3.HashToUInt64(span[..^8]));
        return bytes;
    }

    /// <summary>Reads a state written by <see cref="Serialize"/> for the model of <paramref name="expectedModelIdentity"/>.</summary>
    /// <exception cref="RecurrentStateException">Wrong magic or version, truncated, corrupted, or another model's state.</exception>
    public static RecurrentState Deserialize(ReadOnlySpan<byte> bytes, ulong expectedModelIdentity, string source = "state")
    {
        if (bytes.Length < HeaderBytes + 8 || !bytes[..8].SequenceEqual(Magic))
            throw new RecurrentStateException($"{source}: not a recurrent state (bad magic or shorter than a header)");
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        if (version != FormatVersion)
            throw new RecurrentStateException($"{source}: state format version {version}, this engine reads version {FormatVersion}");
        int layers = BinaryPrimitives.ReadInt32LittleEndian(bytes[20..]);
        int width = BinaryPrimitives.ReadInt32LittleEndian(bytes[24..]);
        if (layers <= 0 || width <= 0 || (long)layers * width > int.MaxValue / 4)
            throw new RecurrentStateException($"{source}: implausible state shape {layers} x {width}");
        long expectedLength = HeaderBytes + (long)layers * width * 4 + 8;
        if (bytes.Length != expectedLength)
            throw new RecurrentStateException($"{source}: {bytes.Length} bytes, a {layers} x {width} state has {expectedLength} (truncated or padded)");
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(bytes[^8..]);
        if (XxHash3.HashToUInt64(bytes[..^8]) != stored)
            throw new RecurrentStateException($"{source}: checksum mismatch (the state is corrupted)");
        ulong identity = BinaryPrimitives.ReadUInt64LittleEndian(bytes[12..]);
        if (identity != expectedModelIdentity)
            throw new RecurrentStateException($"{source}: the state belongs to model {identity:x16}, not to the loaded model {expectedModelIdentity:x16}");
        var state = new RecurrentState(identity, layers, width) { Tokens = BinaryPrimitives.ReadInt64LittleEndian(bytes[28..]) };
        var payload = bytes.Slice(HeaderBytes, layers * width * 4);
        for (int i = 0; i < state.H.Length; i++)
            state.H[i] = BinaryPrimitives.ReadSingleLittleEndian(payload[(i * 4)..]);
        return state;
    }
}
