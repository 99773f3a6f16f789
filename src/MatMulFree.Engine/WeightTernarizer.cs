using MatMulFree.Engine.Kernels;

namespace MatMulFree.Engine;

/// <summary>
/// BitLinear's weight quantizer, applied exactly once to the latent weights:
/// s_w = 1 / max(mean|W|, 1e-5), T = clamp(round(s_w·W), −1, 1), keep T and 1/s_w.
/// Never apply it to already-ternary W̃ = T/s_w: the mean of |W̃| counts the zeros, so the
/// scale changes (the spec's non-idempotence trap).
/// </summary>
public static class WeightTernarizer
{
    /// <summary>Packs [rows, columns] latent weights; returns the scale 1/s_w.</summary>
    public static float Pack(ReadOnlySpan<float> latent, int rows, int columns, Span<byte> packed)
    {
        if (latent.Length != (long)rows * columns)
            throw new ArgumentException($"latent holds {latent.Length} values, [{rows}, {columns}] needs {(long)rows * columns}", nameof(latent));
        int rowBytes = TernaryCodes.RowBytes(columns);
        if (packed.Length != (long)rows * rowBytes)
            throw new ArgumentException($"packed holds {packed.Length} bytes, needs {(long)rows * rowBytes}", nameof(packed));

        double absSum = 0;
        foreach (float w in latent)
            absSum += Math.Abs(w);
        float scale = MathF.Max((float)(absSum / Math.Max(1, latent.Length)), 1e-5f);
        float sw = 1f / scale;

        var trits = new sbyte[columns];
        var packedRow = new byte[rowBytes];
        for (int r = 0; r < rows; r++)
        {
            var row = latent.Slice(r * columns, columns);
            for (int c = 0; c < columns; c++)
                trits[c] = (sbyte)Math.Clamp(MathF.Round(row[c] * sw, MidpointRounding.ToEven), -1f, 1f);
            TernaryCodes.PackRow(trits, packedRow);
            TernaryCodes.StoreRow(packedRow, packed, rows, r);
        }
        return scale;
    }
}
