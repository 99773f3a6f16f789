using MatMulFree.Engine;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// What continuous batching relies on: a session's logits from <see cref="InferenceEngine.DecodeBatch"/>
/// are bit-identical whatever else is in the batch and wherever its row sits; otherwise a greedy
/// or seeded sample can flip on a near-tie and a served session differs from its run alone.
/// </summary>
public sealed class BatchInvarianceTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void InferenceEngine_DecodeBatch_RowLogitsDoNotDependOnTheBatch(int threads)
    {
        using var model = Silo.ServedModel.Load(TestModels.TinyDirectory, Path.GetTempPath());
        using var engine = new InferenceEngine(model.Engine, threads: threads);
        int v = model.Config.VocabSize;
        var alone = engine.CreateState();
        var prompt = new[] { 1, 72, 101, 108, 108, 111 };
        var logits = new float[v];
        engine.Prefill(alone, prompt, logits);
        var expected = new float[v];
        var probe = alone.Clone();
        engine.Decode(probe, 44, expected);

        var mismatches = new List<string>();
        foreach (int n in new[] { 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 48, 63, 64 })
        {
            foreach (int position in new[] { 0, n / 2, n - 1 }.Distinct())
            {
                var states = Enumerable.Range(0, n).Select(i =>
                {
                    if (i == position) return alone.Clone();
                    var other = engine.CreateState();
                    engine.Prefill(other, [1, 65 + i, 66 + i], new float[v]);
                    return other;
                }).ToArray();
                var tokens = Enumerable.Range(0, n).Select(i => i == position ? 44 : 50 + i).ToArray();
                var batch = new float[n * v];
                engine.DecodeBatch(states, tokens, batch);
                if (!batch.AsSpan(position * v, v).SequenceEqual(expected))
                    mismatches.Add($"n={n} row={position}");
            }
        }
        Assert.True(mismatches.Count == 0, $"logits differ from the single decode at: {string.Join(", ", mismatches)}");
    }
}
