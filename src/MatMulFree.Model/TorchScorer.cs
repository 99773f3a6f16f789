using MatMulFree.Core;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MatMulFree.Model;

/// <summary>
/// Mean next-token loss of a model folder on token ids, with the TorchSharp model: the reference
/// the inference engine's scores are checked against. Rows are scored a few at a time and long
/// rows in windows that carry the recurrent state, so a whole book as one row needs no more memory
/// than a page: the recurrence makes windowed scoring exact, not an approximation.
/// </summary>
public static class TorchScorer
{
    /// <summary>Tokens per forward pass: the logits (V floats per token) dominate, so keep them near 128 MiB.</summary>
    internal static int DefaultTokensPerPass(int vocabSize) => Math.Clamp((32 << 20) / vocabSize, 64, 8192);

    /// <summary>Loss = mean over the B·(T−1) predicted tokens, exactly like the golden loss.</summary>
    public static ScoreResult Score(ModelFolder folder, long[,] inputIds) =>
        Score(folder, inputIds, DefaultTokensPerPass(folder.Config.VocabSize));

    internal static ScoreResult Score(ModelFolder folder, long[,] inputIds, int tokensPerPass)
    {
        int rows = inputIds.GetLength(0), length = inputIds.GetLength(1);
        if (rows < 1 || length < 2)
            throw new MatMulFreeException($"scoring needs at least one row of 2 tokens, got [{rows}, {length}]");
        foreach (long id in inputIds)
            if (id < 0 || id >= folder.Config.VocabSize)
                throw new MatMulFreeException($"{folder.Directory}: token id {id} is outside the vocabulary [0, {folder.Config.VocabSize})");

        return DedicatedThread.Run("torch-score", () =>
        {
            using var model = ModelCheckpoint.Load(folder);
            model.PrepareForInference();
            return Score(model, inputIds, tokensPerPass);
        });
    }

    private static ScoreResult Score(MatMulFreeLM model, long[,] inputIds, int tokensPerPass)
    {
        int rows = inputIds.GetLength(0), length = inputIds.GetLength(1);
        int rowsPerPass = Math.Clamp(tokensPerPass / length, 1, rows);
        int window = Math.Max(1, tokensPerPass / rowsPerPass);
        using var noGrad = no_grad();
        using var all = tensor(inputIds); // (B, T)
        double total = 0;
        for (int first = 0; first < rows; first += rowsPerPass)
        {
            int count = Math.Min(rowsPerPass, rows - first);
            using var state = TorchRecurrentState.Zeros(model.Config, count);
            for (int start = 0; start < length - 1; start += window)
            {
                using var scope = NewDisposeScope();
                int end = Math.Min(start + window, length);
                int predicted = Math.Min(end, length - 1) - start;                   // positions with a next token
                var ids = all.narrow(0, first, count).narrow(1, start, end - start); // (b, n)
                var logits = model.Forward(ids, state, null);                        // (b, n, V)
                var targets = all.narrow(0, first, count).narrow(1, start + 1, predicted).reshape(-1); // (b·p)
                var flat = logits.narrow(1, 0, predicted).reshape(-1, model.Config.VocabSize);         // (b·p, V)
                total += F.cross_entropy(flat, targets, reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
            }
        }
        long tokens = (long)rows * (length - 1);
        return new ScoreResult(total / tokens, tokens);
    }
}
