using MatMulFree.Core;

namespace MatMulFree.Engine;

/// <summary>
/// `mmf score --engine cpu`: mean next-token cross-entropy of a model on token ids, computed by
/// this engine (ternary weights converted once, int8 activations), for comparison with the
/// TorchSharp model on the same data.
/// </summary>
public static class EngineScorer
{
    public static ScoreResult Score(ModelFolder folder, long[,] inputIds)
    {
        using var model = ServingConverter.FromCheckpoint(folder.Weights, folder.Config, folder.Directory);
        using var engine = new InferenceEngine(model);
        return Score(engine, inputIds);
    }

    /// <summary>Labels are the inputs shifted by one: logits at t predict id t+1; the last position has no target.</summary>
    public static ScoreResult Score(InferenceEngine engine, long[,] inputIds)
    {
        int batch = inputIds.GetLength(0), length = inputIds.GetLength(1), v = engine.Model.Config.VocabSize;
        int chunk = engine.MaxRows;
        var logits = new float[chunk * v];
        var ids = new int[length];
        double total = 0;
        long count = 0;
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < length; t++)
            {
                long id = inputIds[b, t];
                if (id < 0 || id >= v)
                    throw new EngineException($"input_ids[{b}, {t}] = {id} is outside the vocabulary [0, {v})");
                ids[t] = (int)id;
            }
            var state = engine.CreateState();
            for (int start = 0; start < length - 1; start += chunk)
            {
                int n = Math.Min(chunk, length - 1 - start);
                engine.PrefillAllLogits(state, ids.AsSpan(start, n), logits);
                for (int i = 0; i < n; i++)
                    total += CrossEntropy(logits.AsSpan(i * v, v), ids[start + i + 1]);
                count += n;
            }
        }
        return new ScoreResult(count == 0 ? double.NaN : total / count, count);
    }

    public static double CrossEntropy(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (float z in logits)
            max = Math.Max(max, z);
        double sum = 0;
        foreach (float z in logits)
            sum += Math.Exp(z - max);
        return Math.Log(sum) + max - logits[target];
    }
}
