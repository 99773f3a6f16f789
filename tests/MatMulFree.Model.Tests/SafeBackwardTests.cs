using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

/// <summary>
/// A failure inside a custom backward is provoked the way libtorch itself raises one: a saved input
/// modified in place after forward, so unpacking it in backward throws. Unguarded, that exception
/// unwinds into the native autograd engine and the test host dies with SIGABRT.
/// </summary>
public sealed class SafeBackwardTests
{
    [Fact]
    public void SafeBackward_Run_BitLinearWhoseSavedInputChanged_ThrowsOnTheCallersThread()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        var x = randn([2, 3, 8], generator: generator).requires_grad_();
        var gamma = ones(8).requires_grad_();
        var w = (0.1 * randn([4, 8], generator: generator)).requires_grad_();
        var y = BitLinearFunction.Apply(x, gamma, w);
        using (no_grad()) x.mul_(2);

        var failure = Assert.Throws<BackwardException>(() => SafeBackward.Run(y.sum()));

        Assert.Equal("BitLinearRecompute", failure.Function);
        Assert.Contains("modified by an inplace operation", failure.Message);
    }

    [Fact]
    public void SafeBackward_Run_RecurrenceWhoseSavedGateChanged_ThrowsOnTheCallersThread()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var f = rand([2, 6, 4], generator: generator).requires_grad_();
        var c = randn([2, 6, 4], generator: generator).requires_grad_();
        var h = LinearRecurrence.Apply(f, c);
        using (no_grad()) f.mul_(0.5);

        var failure = Assert.Throws<BackwardException>(() => SafeBackward.Run(h.sum()));

        Assert.Equal("LinearRecurrenceScan", failure.Function);
    }

    [Fact]
    public void SafeBackward_Run_AfterAFailure_TheNextPassComputesTheSameGradients()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        var x = randn([2, 3, 8], generator: generator).requires_grad_();
        var gamma = ones(8).requires_grad_();
        var w = (0.1 * randn([4, 8], generator: generator)).requires_grad_();
        SafeBackward.Run(BitLinearFunction.Apply(x, gamma, w).sum());
        var expected = w.grad!.clone();
        w.grad = null;

        var input = x.clone().requires_grad_();
        var broken = BitLinearFunction.Apply(input, gamma, w);
        using (no_grad()) input.add_(1);
        Assert.Throws<BackwardException>(() => SafeBackward.Run(broken.sum()));
        w.grad = null;

        SafeBackward.Run(BitLinearFunction.Apply(x, gamma, w).sum());
        Assert.True(w.grad!.eq(expected).all().item<bool>(), "a pass after a failed one gave different gradients");
    }
}
