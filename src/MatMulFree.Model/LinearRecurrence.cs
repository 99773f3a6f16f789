using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// h_t = f_t ⊙ h_{t−1} + c_t along dim 1 of (B, T, D) tensors, h_{−1} = 0, computed for all t at
/// once with a Hillis–Steele scan (log₂T passes over the sequence, no per-token loop). Products of
/// gates in [0, 1] never overflow, which log-space cumulative sums divided by cumulative products
/// would on layer 0, whose forget gates have no lower bound.
/// With gradients the scan is one autograd node that saves only f and h: the backward pass is the
/// same recurrence run in reverse, ∂h̄_t = ∂h_t + f_{t+1} ⊙ ∂h̄_{t+1}, then ∂c_t = ∂h̄_t and
/// ∂f_t = ∂h̄_t ⊙ h_{t−1}. Letting autograd record the scan would keep about 2·log₂T copies instead.
/// </summary>
internal sealed class LinearRecurrence : autograd.SingleTensorFunction<LinearRecurrence>
{
    public override string Name => "LinearRecurrenceScan";

    /// <summary>All states h (B, T, D) of the recurrence with forget gates f and inputs c.</summary>
    public static Tensor Apply(Tensor f, Tensor c) =>
        is_grad_enabled() && (f.requires_grad || c.requires_grad) ? apply(f, c) : Scan(f, c);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (f, c) = ((Tensor)vars[0], (Tensor)vars[1]);
        var h = Scan(f, c);
        // A detached alias: saving the output itself would make it hold its own grad_fn.
        ctx.save_for_backward([f, h.detach()]);
        return h;
    }

    // Called from libtorch's autograd engine: nothing may be thrown from here (see SafeBackward).
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput) =>
        SafeBackward.Guard(Name, inputs: 2, () => Backward(ctx, gradOutput));

    private static List<Tensor> Backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        GradientHandoff.ReleasePrevious();
        List<Tensor> saved = ctx.get_saved_variables();
        using var scope = NewDisposeScope();
        var (f, h) = (saved[0], saved[1]);
        long steps = f.shape[1];

        var nextGate = nn.functional.pad(f.narrow(1, 1, steps - 1), [0, 0, 0, 1]); // (B, T, D) f_{t+1}, 0 at the end
        var gradState = Scan(nextGate.flip(1), gradOutput.flip(1)).flip(1);        // (B, T, D) ∂h̄
        var previous = nn.functional.pad(h.narrow(1, 0, steps - 1), [0, 0, 1, 0]);  // (B, T, D) h_{t−1}, 0 at the start
        var gradGate = gradState * previous;                                        // (B, T, D)

        var gradients = GradientHandoff.Hand(gradGate, gradState);
        gradOutput.Dispose();
        foreach (Tensor t in saved) t.Dispose();
        return gradients;
    }

    /// <summary>The scan itself, outside autograd; the tests hold it against a token-by-token loop.</summary>
    internal static Tensor Scan(Tensor gate, Tensor input)
    {
        long steps = gate.shape[1];
        using var scope = NewDisposeScope();
        var h = input.clone();     // (B, T, D) after the pass with offset k: sum of the last 2k terms
        var decay = gate.clone();  // (B, T, D) product of the last 2k gates
        for (long k = 1; k < steps; k *= 2)
        {
            var decayTail = decay.narrow(1, k, steps - k);
            h.narrow(1, k, steps - k).PlusInPlace(decayTail * h.narrow(1, 0, steps - k));
            if (2 * k < steps)
                decayTail.copy_(decayTail * decay.narrow(1, 0, steps - k));
            scope.DisposeEverythingBut(h, decay);
        }
        return h.MoveToOuterDisposeScope();
    }
}
