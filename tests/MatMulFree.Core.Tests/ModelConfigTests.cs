namespace MatMulFree.Core.Tests;

public sealed class ModelConfigTests
{
    [Theory]
    [InlineData("tiny", 256, 64, 2, 256)]
    [InlineData("small", 512, 128, 3, 512)]
    [InlineData("bf16", 256, 128, 2, 512)]
    public void Load_GoldenConfigs_ResolvesIntermediateSize(string set, int vocab, int hidden, int layers, int intermediate)
    {
        ModelConfig c = ModelConfig.Load(RepoPaths.Golden($"{set}.config.json"));
        Assert.Equal((vocab, hidden, layers, intermediate), (c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize));
        Assert.True(c.UseLowerBound);
        Assert.Equal(1e-6f, c.RmsNormEps);
    }

    [Fact]
    public void Preset_370m_MatchesPaperShape()
    {
        ModelConfig c = ModelConfig.Preset("370m");
        Assert.Equal((32000, 1024, 24, 2816), (c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize));
        Assert.Equal(5632, ModelConfig.Preset("1.3b").IntermediateSize);
        Assert.Equal(6912, ModelConfig.Preset("2.7b").IntermediateSize);
    }

    [Fact]
    public void ToJson_Parse_RoundTrips()
    {
        ModelConfig original = ModelConfig.Preset("tiny");
        Assert.Equal(original, ModelConfig.Parse(original.ToJson(), "round trip"));
    }

    [Theory]
    [InlineData("""{"model_type":"hgrn_bit","hidden_size":64,"num_hidden_layers":2}""", "\"vocab_size\" is missing")]
    [InlineData("""{"hidden_size":64,"num_hidden_layers":2,"vocab_size":256}""", "\"model_type\" is missing")]
    [InlineData("""{"model_type":"llama","vocab_size":256,"hidden_size":64,"num_hidden_layers":2}""", "expected \"hgrn_bit\"")]
    [InlineData("""{"model_type":"hgrn_bit","vocab_size":"256","hidden_size":64,"num_hidden_layers":2}""", "\"vocab_size\" must be a whole number")]
    [InlineData("""{"model_type":"hgrn_bit","vocab_size":256,"hidden_size":-64,"num_hidden_layers":2}""", "\"hidden_size\" must be positive")]
    [InlineData("""{"model_type":"hgrn_bit","vocab_size":256,"hidden_size":64,"num_hidden_layers":2.5}""", "\"num_hidden_layers\" must be a whole number")]
    [InlineData("""{"model_type":"hgrn_bit","vocab_size":256,"hidden_size":64,"num_hidden_layers":2,"use_short_conv":true}""", "use_short_conv")]
    [InlineData("""{"model_type":"hgrn_bit","vocab_size":256,"hidden_size":64,"num_hidden_layers":2,"rms_norm_eps":0}""", "\"rms_norm_eps\"")]
    [InlineData("""{"model_type":"hgrn_bit","vocab_size":256,"hidden_size":64,"num_hidden_layers":2,"num_heads":3}""", "num_heads")]
    [InlineData("""{"model_type":"hgrn_bit","vocab_size":256,"hidden_size":64,"num_hidden_layers":2,"use_lower_bound":"yes"}""", "\"use_lower_bound\" must be true or false")]
    [InlineData("""[1, 2]""", "must be a JSON object")]
    [InlineData("""{"model_type": """, "not valid JSON")]
    public void Parse_BadConfig_ThrowsNamingTheKey(string json, string expected)
    {
        var e = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json, "cfg.json"));
        Assert.Contains("cfg.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    // Values the model computes differently from what they ask for, and sizes whose arithmetic
    // overflows: each refused by the key the user wrote, with the real reason.
    [Theory]
    [InlineData(""","hidden_act":"relu"}""", "\"hidden_act\" is \"relu\"")]
    [InlineData(""","hidden_act":5}""", "\"hidden_act\" must be a string")]
    [InlineData(""","attn_mode":"parallel"}""", "\"attn_mode\" is \"parallel\"")]
    [InlineData(""","rms_norm_eps":1e-50}""", "\"rms_norm_eps\"")]
    [InlineData(""","rms_norm_eps":1e300}""", "\"rms_norm_eps\"")]
    [InlineData(""","rms_norm_eps":1e400}""", "\"rms_norm_eps\"")]
    [InlineData(""","num_heads":1e400}""", "\"num_heads\" must be a whole number")]
    [InlineData(""","hidden_size":2147483647}""", "hidden_size 2147483647 is too large")]
    [InlineData(""","vocab_size":2147483647}""", "vocab_size 2147483647 × hidden_size 64 is too large")]
    [InlineData(""","expand_ratio":2147483647}""", "expand_ratio 2147483647")]
    [InlineData(""","intermediate_size":2147483647}""", "intermediate_size 2147483647")]
    [InlineData(""","hidden_ratio":2147483647}""", "hidden_ratio 2147483647")]
    [InlineData(""","num_hidden_layers":2147483647}""", "num_hidden_layers 2147483647")]
    [InlineData(""","hidden_act":"swish","hidden_act":"relu"}""", "Duplicate property 'hidden_act'")]
    [InlineData(""","hidden_act":"\uD800"}""", "\"hidden_act\" must be a string of valid text")]
    [InlineData(""","\uDC00":1}""", "not valid JSON text")]
    public void Parse_UnsupportedOrOverflowingValue_NamesTheKey(string extra, string expected)
    {
        string[] defaults = ["\"vocab_size\":256", "\"hidden_size\":64", "\"num_hidden_layers\":2"];
        string json = """{"model_type":"hgrn_bit",""" + string.Concat(defaults.Where(d => !extra.Contains(d.Split(':')[0])).Select(d => d + ",")) + extra[1..];
        var e = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json, "cfg.json"));
        Assert.Contains("cfg.json", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("must be positive, got", e.Message);
    }

    [Theory]
    [InlineData("swish", "fused_recurrent")]
    [InlineData("silu", "chunk")]
    public void Parse_SupportedActivationAndMixerMode_AreAccepted(string act, string mode)
    {
        ModelConfig c = ModelConfig.Parse(
            $$"""{"model_type":"hgrn_bit","vocab_size":256,"hidden_size":64,"num_hidden_layers":2,"hidden_act":"{{act}}","attn_mode":"{{mode}}"}""", "cfg");
        Assert.Equal(256, c.IntermediateSize);
    }

    [Fact]
    public void Parse_UnknownKeysAndNullIntermediate_AreAccepted()
    {
        ModelConfig c = ModelConfig.Parse(
            """{"model_type":"hgrn_bit","vocab_size":32000,"hidden_size":1024,"num_hidden_layers":24,"intermediate_size":null,"whatever":{"x":1}}""", "cfg");
        Assert.Equal(2816, c.IntermediateSize);
    }

    [Fact]
    public void ParameterNames_All_CountsGoldenParameters()
    {
        long count = ParameterNames.All(ModelConfig.Load(RepoPaths.Golden("tiny.config.json")))
            .Sum(p => p.Shape.Aggregate(1L, (n, s) => n * s));
        Assert.Equal(165_632, count); // the golden README's figure
    }
}
