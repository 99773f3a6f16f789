using MatMulFree.Core;

namespace MatMulFree.Engine.Tests;

/// <summary>The engine against the authors' own outputs (tests/data/golden), with the README's tolerances.</summary>
public sealed class InferenceEngineGoldenTests
{
    public static TheoryData<string> Sets => new() { "tiny", "small", "long", "bf16" };

    [Theory]
    [MemberData(nameof(Sets))]
    public void InferenceEngine_PrefillAllLogits_MatchesGoldenLogitsAndLoss(string name)
    {
        var set = GoldenSet.Load(name);
        // 16-token chunks: the recurrent state must carry across prefill chunks.
        using var engine = new InferenceEngine(set.Model, maxRows: 16);
        int v = set.Config.VocabSize;
        var logits = new float[set.Batch * set.Length * v];
        for (int b = 0; b < set.Batch; b++)
            engine.PrefillAllLogits(engine.CreateState(), set.Row(b), logits.AsSpan(b * set.Length * v, set.Length * v));
        set.AssertLogitsClose(logits, "prefill");

        var score = EngineScorer.Score(engine, set.InputIds);
        Assert.Equal(set.Batch * (set.Length - 1), score.Tokens);
        Assert.True(Math.Abs(score.Loss - set.Loss) <= 2e-3, $"{name}: loss {score.Loss} vs golden {set.Loss}");
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void InferenceEngine_Decode_TokenByTokenMatchesGoldenLogits(string name)
    {
        var set = GoldenSet.Load(name);
        using var engine = new InferenceEngine(set.Model);
        int v = set.Config.VocabSize;
        var logits = new float[set.Batch * set.Length * v];
        for (int b = 0; b < set.Batch; b++)
        {
            var state = engine.CreateState();
            var ids = set.Row(b);
            for (int t = 0; t < set.Length; t++)
                engine.Decode(state, ids[t], logits.AsSpan((b * set.Length + t) * v, v));
            Assert.Equal(set.Length, state.Tokens);
        }
        set.AssertLogitsClose(logits, "decode");
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void InferenceEngine_DecodeBatch_MatchesGoldenLogits(string name)
    {
        var set = GoldenSet.Load(name);
        using var engine = new InferenceEngine(set.Model);
        int v = set.Config.VocabSize;
        var states = Enumerable.Range(0, set.Batch).Select(_ => engine.CreateState()).ToArray();
        var step = new float[set.Batch * v];
        var logits = new float[set.Batch * set.Length * v];
        var tokens = new int[set.Batch];
        for (int t = 0; t < set.Length; t++)
        {
            for (int b = 0; b < set.Batch; b++)
                tokens[b] = (int)set.InputIds[b, t];
            engine.DecodeBatch(states, tokens, step);
            for (int b = 0; b < set.Batch; b++)
                step.AsSpan(b * v, v).CopyTo(logits.AsSpan((b * set.Length + t) * v, v));
        }
        set.AssertLogitsClose(logits, "batched decode");
    }

    [Fact]
    public void InferenceEngine_Prefill_ScalarKernelMatchesSimdKernel()
    {
        var set = GoldenSet.Load("small");
        using var simd = new InferenceEngine(set.Model);
        using var scalar = new InferenceEngine(set.Model, new Kernels.ScalarTernaryKernel(), threads: 1);
        int v = set.Config.VocabSize;
        var a = new float[v];
        var b = new float[v];
        simd.Prefill(simd.CreateState(), set.Row(0), a);
        scalar.Prefill(scalar.CreateState(), set.Row(0), b);
        double max = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(max <= 0.1, $"scalar vs {simd.Kernel.Name}: max |Δ| {max}");
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void InferenceEngine_Score_HalfPrecisionEmbeddingsMoveTheLossLittle(string name)
    {
        // fp16 embeddings (the serving default) round each value by up to 2^-11 relative; on these
        // random models that moves the loss by ≈ 1e-4, within the golden loss tolerance.
        var set = GoldenSet.Load(name);
        using var engine = new InferenceEngine(set.HalfModel);
        var score = EngineScorer.Score(engine, set.InputIds);
        Assert.True(Math.Abs(score.Loss - set.Loss) <= 2e-3, $"{name}: fp16-embedding loss {score.Loss} vs golden {set.Loss}");
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void InferenceEngine_Score_Int8RowEmbeddingsMoveTheLossLittle(string name)
    {
        // int8 embeddings with a scale per row round each value by up to max|row|/254; the first
        // RMSNorm divides the row's scale out again, so only the relative rounding reaches the loss.
        var set = GoldenSet.Load(name);
        using var engine = new InferenceEngine(set.Int8Model);
        var score = EngineScorer.Score(engine, set.InputIds);
        Assert.True(Math.Abs(score.Loss - set.Loss) <= 2e-3, $"{name}: int8-embedding loss {score.Loss} vs golden {set.Loss} (Δ {score.Loss - set.Loss:E2})");
        Assert.Equal(ServingTensorKind.I8Rows, set.Int8Model.EmbeddingKind);
    }

    [Fact]
    public void ServingConverter_Random_Int8RowEmbeddingsQuarterTheEmbeddingBytes()
    {
        var config = ModelConfig.Preset("tiny");
        using var half = ServingConverter.Random(config, seed: 1);
        using var int8 = ServingConverter.Random(config, seed: 1, ServingTensorKind.I8Rows);
        Assert.Equal(2L * config.HiddenSize, half.EmbeddingRowBytes);
        Assert.Equal(4L + config.HiddenSize, int8.EmbeddingRowBytes);
        Assert.Equal(half.WeightBytes - (long)config.VocabSize * (config.HiddenSize - 4), int8.WeightBytes);
    }
}
