namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The 2-bit packing of ternary weights that every kernel reads (in the manner of bitnet.cpp's
/// I2_S, widened to 256-weight blocks so that one 64-byte load feeds a 512-bit register).
/// <para>
/// A weight T ∈ {−1, 0, +1} is stored as the unsigned code c = T + 1 ∈ {0, 1, 2}, so that
/// <c>vpmaddubsw</c> / <c>vpdpbusd</c> (unsigned × signed bytes) compute Σ c·q, and the kernel's
/// caller recovers Σ T·q = Σ c·q − Σ q with one subtraction per output. Code 3 never occurs.
/// </para>
/// <para>
/// A row of K weights is padded to a multiple of 256 with code 1 (T = 0) and cut into blocks of
/// 256 weights in 64 bytes. Byte j (0..63) of block b holds four weights, one per 64-wide group:
/// bits 7–6 = column 256b + j, bits 5–4 = 256b + 64 + j, bits 3–2 = 256b + 128 + j,
/// bits 1–0 = 256b + 192 + j. Shifting a loaded vector right by 6, 4, 2, 0 and masking with 3
/// therefore yields the codes of 64 (or 32, or 16) consecutive columns, matching a plain load of
/// the same span of activations, for every vector width.
/// </para>
/// <para>
/// A matrix stores its rows in tiles of <see cref="RowsPerTile"/> (the last tile may hold fewer),
/// blocks interleaved: tile, then block, then row. The kernels walk 4 rows together, so they read
/// one sequential stream. Row-major storage made 4 short streams of one row each; with 704-byte
/// rows (the 370M down projection) the prefetchers lost them and that product ran at a third of
/// the bandwidth of the others (measured: 7 → 24 GB/s of one core when interleaved).
/// </para>
/// </summary>
public static class TernaryCodes
{
    public const int WeightsPerBlock = 256;
    public const int BytesPerBlock = 64;
    public const int GroupWidth = 64;
    public const int RowsPerTile = 4;

    /// <summary>The row length in weights after padding to whole blocks.</summary>
    public static int PaddedLength(int columns) => (columns + WeightsPerBlock - 1) / WeightsPerBlock * WeightsPerBlock;

    public static int RowBytes(int columns) => PaddedLength(columns) / 4;

    /// <summary>Packs one row of trits (−1, 0, +1) into <paramref name="destination"/> (RowBytes long).</summary>
    public static void PackRow(ReadOnlySpan<sbyte> trits, Span<byte> destination)
    {
        int padded = PaddedLength(trits.Length);
        if (destination.Length != padded / 4)
            throw new ArgumentException($"destination holds {destination.Length} bytes, the row needs {padded / 4}", nameof(destination));
        for (int block = 0; block < padded / WeightsPerBlock; block++)
        {
            for (int j = 0; j < BytesPerBlock; j++)
            {
                int value = 0;
                for (int group = 0; group < 4; group++)
                {
                    int column = block * WeightsPerBlock + group * GroupWidth + j;
                    int code = column < trits.Length ? trits[column] + 1 : 1;
                    if ((uint)code > 2)
                        throw new ArgumentException($"trit {trits[column]} at column {column} is not -1, 0 or +1", nameof(trits));
                    value |= code << (6 - 2 * group);
                }
                destination[block * BytesPerBlock + j] = (byte)value;
            }
        }
    }

    /// <summary>The unsigned code (T + 1) of column <paramref name="column"/> of a row packed by <see cref="PackRow"/>.</summary>
    public static int Code(ReadOnlySpan<byte> row, int column)
    {
        int block = column / WeightsPerBlock, offset = column % WeightsPerBlock;
        int group = offset / GroupWidth, j = offset % GroupWidth;
        return (row[block * BytesPerBlock + j] >> (6 - 2 * group)) & 3;
    }
    /// <summary>Byte offset of block <paramref name="block"/> of <paramref name="row"/> in a matrix of <paramref name="rows"/> rows.</summary>
    public static long BlockOffset(int rows, int rowBytes, int row, int block)
    {
        int tile = row - row % RowsPerTile;
        return (long)tile * rowBytes + (long)block * TileBlockStride(rows, tile) + (long)(row - tile) * BytesPerBlock;
    }

    /// <summary>Bytes from one block to the next within the tile that starts at <paramref name="tileStart"/>.</summary>
    public static int TileBlockStride(int rows, int tileStart) => Math.Min(RowsPerTile, rows - tileStart) * BytesPerBlock;

    /// <summary>Copies one row packed by <see cref="PackRow"/> to its place in a tiled matrix.</summary>
    public static void StoreRow(ReadOnlySpan<byte> packedRow, Span<byte> matrix, int rows, int row)
    {
        int rowBytes = packedRow.Length;
        if (matrix.Length != (long)rows * rowBytes)
            throw new ArgumentException($"matrix holds {matrix.Length} bytes, [{rows}] rows of {rowBytes} need {(long)rows * rowBytes}", nameof(matrix));
        for (int b = 0; b < rowBytes / BytesPerBlock; b++)
            packedRow.Slice(b * BytesPerBlock, BytesPerBlock).CopyTo(matrix[(int)BlockOffset(rows, rowBytes, row, b)..]);
    }

    /// <summary>The unsigned code (T + 1) of one weight of a tiled matrix.</summary>
    public static int Code(ReadOnlySpan<byte> matrix, int rows, int rowBytes, int row, int column)
    {
        int block = column / WeightsPerBlock, offset = column % WeightsPerBlock;
        int group = offset / GroupWidth, j = offset % GroupWidth;
        return (matrix[(int)(BlockOffset(rows, rowBytes, row, block) + j)] >> (6 - 2 * group)) & 3;
    }
}
