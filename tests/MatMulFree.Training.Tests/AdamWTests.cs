using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MatMulFree.Training.Tests;

public sealed class AdamWTests
{
    [Theory]
    [InlineData("model.embeddings.weight", false)]
    [InlineData("model.lower_bounds", false)]
    [InlineData("model.layers.0.attn_norm.weight", false)]
    [InlineData("model.layers.0.attn.i_proj.norm.weight", false)]
    [InlineData("model.layers.1.attn.g_norm.weight", false)]
    [InlineData("model.norm.weight", false)]
    [InlineData("lm_head.norm.weight", false)]
    [InlineData("model.layers.0.attn.i_proj.weight", true)]
    [InlineData("model.layers.1.mlp.down_proj.weight", true)]
    [InlineData("lm_head.weight", true)]
    public void ParameterGroups_IsDecayed_ExcludesNormsLowerBoundsAndEmbeddings(string name, bool decayed) =>
        Assert.Equal(decayed, ParameterGroups.IsDecayed(name));

    [Fact]
    public void AdamW_Step_DecaysOnlyTheDecayedGroup()
    {
        using var decayed = new Parameter(full(3, 2f));
        using var kept = new Parameter(full(3, 2f));
        decayed.grad = zeros(3);
        kept.grad = zeros(3);
        using var optimizer = new AdamW([("lm_head.weight", decayed), ("model.norm.weight", kept)], new AdamWSettings(WeightDecay: 0.5));

        optimizer.Step(0.1);

        Assert.All(decayed.data<float>().ToArray(), v => Assert.Equal(2f * (1 - 0.1f * 0.5f), v, 6));
        Assert.All(kept.data<float>().ToArray(), v => Assert.Equal(2f, v));
    }

    [Fact]
    public void AdamW_Step_MatchesTheFormulaOverTwoSteps()
    {
        var settings = new AdamWSettings(Beta1: 0.9, Beta2: 0.95, Epsilon: 1e-8, WeightDecay: 0.1);
        using var p = new Parameter(tensor(new float[] { 1f, -2f }));
        using var optimizer = new AdamW([("lm_head.weight", p)], settings);
        double[] x = [1, -2], m = [0, 0], v = [0, 0];
        float[][] gradients = [[0.5f, -1f], [0.25f, 2f]];
        for (int t = 1; t <= 2; t++)
        {
            p.grad = tensor(gradients[t - 1]);
            optimizer.Step(0.01);
            for (int i = 0; i < 2; i++)
            {
                double g = gradients[t - 1][i];
                x[i] *= 1 - 0.01 * 0.1;
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.95 * v[i] + 0.05 * g * g;
                double mHat = m[i] / (1 - Math.Pow(0.9, t)), vHat = v[i] / (1 - Math.Pow(0.95, t));
                x[i] -= 0.01 * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
        }
        float[] actual = p.data<float>().ToArray();
        Assert.Equal(x[0], actual[0], 5);
        Assert.Equal(x[1], actual[1], 5);
        Assert.Equal(2, optimizer.StepCount);
    }
}
