using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

public sealed class LinearRecurrenceTests
{
    /// <summary>The recurrence as the spec writes it, one token at a time: the scan's reference.</summary>
    private static Tensor TokenLoop(Tensor f, Tensor c)
    {
        var h = zeros_like(c.select(1, 0)); // (B, D)
        var states = new List<Tensor>();
        for (long t = 0; t < f.shape[1]; t++)
        {
            h = f.select(1, t) * h + c.select(1, t);
            states.Add(h);
        }
        return stack(states, 1); // (B, T, D)
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(300)]
    public void LinearRecurrence_Scan_MatchesTokenLoop(int steps)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        var f = rand([2, steps, 5], generator: generator, dtype: ScalarType.Float64);
        var c = randn([2, steps, 5], generator: generator, dtype: ScalarType.Float64);
        var expected = TokenLoop(f, c);
        var actual = LinearRecurrence.Scan(f, c);
        Assert.True(allclose(expected, actual, rtol: 1e-10, atol: 1e-12), $"T={steps}: max |Δ| {(expected - actual).abs().max().item<double>()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(130)]
    public void LinearRecurrence_Backward_MatchesAutogradThroughTokenLoop(int steps)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        var f = rand([2, steps, 4], generator: generator, dtype: ScalarType.Float64).requires_grad_();
        var c = randn([2, steps, 4], generator: generator, dtype: ScalarType.Float64).requires_grad_();
        var upstream = randn([2, steps, 4], generator: generator, dtype: ScalarType.Float64);

        (TokenLoop(f, c) * upstream).sum().backward();
        var (expectedF, expectedC) = (f.grad!.clone(), c.grad!.clone());
        f.grad!.zero_();
        c.grad!.zero_();
        (LinearRecurrence.Apply(f, c) * upstream).sum().backward();

        Assert.True(allclose(expectedF, f.grad!, rtol: 1e-10, atol: 1e-12), "∂f differs from autograd through the loop");
        Assert.True(allclose(expectedC, c.grad!, rtol: 1e-10, atol: 1e-12), "∂c differs from autograd through the loop");
    }
}
