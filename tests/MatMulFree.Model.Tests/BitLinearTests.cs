using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

public sealed class BitLinearTests
{
    private static (Tensor Y, Tensor GradX, Tensor GradGamma, Tensor GradW) RunLayer(BitLinearMode mode, Tensor x, Tensor gamma, Tensor w, Tensor upstream)
    {
        using var layer = new BitLinear(w.shape[1], w.shape[0], mode);
        var parameters = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        {
            parameters["weight"].copy_(w);
            parameters["norm.weight"].copy_(gamma);
        }
        var input = x.clone().requires_grad_();
        var y = layer.call(input);
        (y * upstream).sum().backward();
        return (y.detach(), input.grad!.clone(), parameters["norm.weight"].grad!.clone(), parameters["weight"].grad!.clone());
    }

    [Fact]
    public void BitLinear_RecomputeBackward_EqualsPlainStraightThroughAutograd()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        var x = randn([3, 5, 24], generator: generator);
        var gamma = 1 + 0.1 * randn([24], generator: generator);
        var w = 0.05 * randn([16, 24], generator: generator);
        var upstream = randn([3, 5, 16], generator: generator);

        var plain = RunLayer(BitLinearMode.Plain, x, gamma, w, upstream);
        var recompute = RunLayer(BitLinearMode.Recompute, x, gamma, w, upstream);

        Assert.True(allclose(plain.Y, recompute.Y, rtol: 1e-5, atol: 1e-6), "outputs differ");
        Assert.True(allclose(plain.GradX, recompute.GradX, rtol: 1e-4, atol: 1e-5), "∂x differs");
        Assert.True(allclose(plain.GradGamma, recompute.GradGamma, rtol: 1e-4, atol: 1e-5), "∂γ differs");
        Assert.True(allclose(plain.GradW, recompute.GradW, rtol: 1e-4, atol: 1e-5), "∂W differs");
        Assert.True(recompute.GradGamma.abs().sum().item<float>() > 0, "no gradient reached γ");
    }

    [Fact]
    public void Quantizers_Weights_AreTernaryValuesTimesOneScale()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var w = randn([8, 12], generator: generator);
        var scale = 1.0 / w.abs().mean().item<float>();
        var levels = (Quantizers.Weights(w) * scale).round();
        var distinct = levels.unique().Item1.data<float>().ToArray();
        Assert.Equal(new float[] { -1, 0, 1 }, distinct);
    }

    [Fact]
    public void Quantizers_Activations_Use127LevelsOfEachRowsMaximum()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 0.5f, -1.0f, 0.25f, 0.0f, 2.0f, 2.0f, -2.0f, 1.0f }, [2, 4]);
        var q = Quantizers.Activations(x).data<float>().ToArray();
        // Row 0: scale 127, 0.5 → 64/127 (63.5 rounds half to even), 0.25 → 32/127 (31.75 → 32).
        Assert.Equal(new[] { 64f / 127, -1f, 32f / 127, 0f }, q[..4], new FloatTolerance(1e-6f));
        // Row 1: scale 127/2, so 1.0 → 63.5 → 64 levels → 64/63.5, not 1.
        Assert.Equal(new[] { 2f, 2f, -2f, 64f / 63.5f }, q[4..], new FloatTolerance(1e-6f));
    }

    [Fact]
    public void MatMulFreeLM_PrepareForInference_KeepsLogitsAndRefusesTraining()
    {
        using var scope = NewDisposeScope();
        using var model = ModelInitialization.CreateRandom(TestConfigs.Small(), seed: 1);
        var ids = randint(64, [2, 9], generator: new Generator(2));
        Tensor before;
        using (no_grad()) before = model.forward(ids);
        model.PrepareForInference();
        using (no_grad())
            Assert.True(allclose(before, model.forward(ids), rtol: 1e-5, atol: 1e-5));
        Assert.Throws<InvalidOperationException>(() => model.forward(ids));
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float value) => 0;
    }
}
