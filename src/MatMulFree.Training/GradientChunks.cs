using System.Runtime.InteropServices;

namespace MatMulFree.Training;

/// <summary>
/// Cuts a range of a float vector into byte chunks of at most <see cref="DefaultChunkBytes"/> for
/// grain calls, and adds received chunks back in. Orleans writes a header per element of a
/// <c>float[]</c> and drops the connection of a message over 100 MB, so gradients travel as
/// <c>byte[]</c> of a few MB each.
/// </summary>
public static class GradientChunks
{
    public const int DefaultChunkBytes = 4 << 20;

    /// <summary>One piece of a vector: where it starts (in floats) and its bytes.</summary>
    public readonly record struct Chunk(int Offset, byte[] Bytes)
    {
        public int Count => Bytes.Length / sizeof(float);
    }

    /// <summary>[start, start + count) of <paramref name="values"/> as chunks, in order.</summary>
    public static IEnumerable<Chunk> Split(float[] values, int start, int count, int chunkBytes = DefaultChunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, sizeof(float));
        if (start < 0 || count < 0 || start + count > values.Length)
            throw new ArgumentOutOfRangeException(nameof(count), $"[{start}, {start + count}) is outside a vector of {values.Length}");
        int perChunk = chunkBytes / sizeof(float);
        for (int offset = start; offset < start + count; offset += perChunk)
        {
            int n = Math.Min(perChunk, start + count - offset);
            yield return new Chunk(offset, MemoryMarshal.AsBytes(values.AsSpan(offset, n)).ToArray());
        }
    }

    /// <summary>Overwrites <paramref name="destination"/> at <paramref name="offset"/> with the chunk's floats.</summary>
    public static void CopyInto(float[] destination, int offset, ReadOnlySpan<byte> bytes) =>
        MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination.AsSpan(offset));

    /// <summary>Adds the chunk's floats element-wise into <paramref name="destination"/> at <paramref name="offset"/>.</summary>
    public static void AddInto(float[] destination, int offset, ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<float> source = MemoryMarshal.Cast<byte, float>(bytes);
        Span<float> target = destination.AsSpan(offset, source.Length);
        for (int i = 0; i < source.Length; i++) target[i] += source[i];
    }

    /// <summary>
    /// The slice of a vector of <paramref name="length"/> floats that rank <paramref name="rank"/> of
    /// <paramref name="ranks"/> reduces: contiguous, sizes differing by at most one.
    /// </summary>
    public static (int Start, int Count) Segment(int length, int rank, int ranks)
    {
        int start = (int)((long)length * rank / ranks);
        int end = (int)((long)length * (rank + 1) / ranks);
        return (start, end - start);
    }
}
