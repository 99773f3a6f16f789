using MatMulFree.Core.SafeTensors;
using MatMulFree.Core.Tokenization;

namespace MatMulFree.Core;

/// <summary>
/// Reads the token ids to score: a <c>.safetensors</c> file with an int64/int32 tensor
/// <c>input_ids</c> [B, T], or a UTF-8 text file tokenized with the model's tokenizer ([1, T]).
/// </summary>
public static class TokenInputReader
{
    public const string InputIdsTensor = "input_ids";

    /// <param name="vocabSize">Ids must be below it: an out-of-range id is an error naming the position.</param>
    public static long[,] Read(string path, ITextTokenizer tokenizer, int vocabSize)
    {
        if (!File.Exists(path))
            throw new MatMulFreeException($"{path}: input file not found");

        long[,] ids = path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
            ? ReadSafeTensors(path)
            : ReadText(path, tokenizer);

        if (ids.GetLength(0) == 0)
            throw new MatMulFreeException($"{path}: no rows to score (input_ids is [0, {ids.GetLength(1)}])");
        if (ids.GetLength(1) < 2)
            throw new MatMulFreeException($"{path}: needs at least 2 tokens per row to predict one, got {ids.GetLength(1)}");
        for (int b = 0; b < ids.GetLength(0); b++)
            for (int t = 0; t < ids.GetLength(1); t++)
                if (ids[b, t] < 0 || ids[b, t] >= vocabSize)
                    throw new MatMulFreeException($"{path}: token id {ids[b, t]} at [{b}, {t}] is outside the vocabulary [0, {vocabSize})");
        return ids;
    }

    private static long[,] ReadSafeTensors(string path)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        TensorEntry entry = file.Entry(InputIdsTensor);
        if (entry.Shape.Length != 2)
            throw new SafeTensorsException($"{path}: tensor '{InputIdsTensor}' has shape {entry.ShapeText}, expected [batch, tokens]");
        long[] flat = file.ReadInt64(InputIdsTensor);
        var ids = new long[entry.Shape[0], entry.Shape[1]];
        Buffer.BlockCopy(flat, 0, ids, 0, flat.Length * sizeof(long));
        return ids;
    }

    private static long[,] ReadText(string path, ITextTokenizer tokenizer)
    {
        string text;
        try
        {
            // Decoded directly: File.ReadAllText would honour a UTF-16 byte-order mark and read garbage.
            text = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path));
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new MatMulFreeException($"{path}: not UTF-8 text (and not a .safetensors file)");
        }
        IReadOnlyList<int> tokens = tokenizer.Encode(text, addBos: true);
        var ids = new long[1, tokens.Count];
        for (int t = 0; t < tokens.Count; t++) ids[0, t] = tokens[t];
        return ids;
    }
}
