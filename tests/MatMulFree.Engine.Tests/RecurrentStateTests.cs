namespace MatMulFree.Engine.Tests;

public sealed class RecurrentStateTests
{
    [Fact]
    public void RecurrentState_Deserialize_ContinuesGenerationExactly()
    {
        var set = GoldenSet.Load("tiny");
        using var engine = new InferenceEngine(set.Model);
        var ids = set.Row(0);
        var state = engine.CreateState();
        var logits = new float[set.Config.VocabSize];
        engine.Prefill(state, ids[..10], logits);
        var restored = RecurrentState.Deserialize(state.Serialize(), set.Model.Identity);
        Assert.Equal(10, restored.Tokens);

        var a = new float[logits.Length];
        var b = new float[logits.Length];
        engine.Decode(state, ids[10], a);
        engine.Decode(restored, ids[10], b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void RecurrentState_Deserialize_AnotherModelsStateIsRejected()
    {
        var tiny = GoldenSet.Load("tiny");
        var other = GoldenSet.Load("long").HalfModel; // same shape as tiny, other weights
        using var engine = new InferenceEngine(tiny.Model);
        var bytes = engine.CreateState().Serialize();
        var e = Assert.Throws<RecurrentStateException>(() => RecurrentState.Deserialize(bytes, other.Identity));
        Assert.Contains(other.IdentityHex, e.Message);
    }

    [Fact]
    public void RecurrentState_Deserialize_CorruptedOrTruncatedIsRejected()
    {
        var set = GoldenSet.Load("tiny");
        using var engine = new InferenceEngine(set.Model);
        var state = engine.CreateState();
        engine.Prefill(state, set.Row(0)[..5], new float[set.Config.VocabSize]);
        var bytes = state.Serialize();
        bytes[100] ^= 1;
        Assert.Contains("checksum", Assert.Throws<RecurrentStateException>(() => RecurrentState.Deserialize(bytes, set.Model.Identity)).Message);
        Assert.Contains("truncated", Assert.Throws<RecurrentStateException>(() => RecurrentState.Deserialize(bytes.AsSpan(0, bytes.Length - 4), set.Model.Identity)).Message);
    }

    [Fact]
    public void InferenceEngine_Decode_StateOfAnotherModelIsRejected()
    {
        using var a = new InferenceEngine(GoldenSet.Load("tiny").Model);
        using var b = new InferenceEngine(GoldenSet.Load("long").Model);
        Assert.Throws<EngineException>(() => a.Decode(b.CreateState(), 1, new float[256]));
    }
}
