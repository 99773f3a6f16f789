using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// One optimiser step on one batch, in the order every training loop here uses: clear gradients,
/// forward, mean next-token loss, backward, step. All temporaries die in the step's dispose scope.
/// </summary>
public static class TrainingStep
{
    /// <returns>The batch's loss before the update.</returns>
    public static double Run(MatMulFreeLM model, optim.Optimizer optimizer, Tensor ids)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = model.Loss(ids); // ()
        SafeBackward.Run(loss);
        optimizer.step();
        return loss.item<float>();
    }
}
