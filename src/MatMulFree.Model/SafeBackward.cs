using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// Keeps an exception thrown inside one of the model's custom autograd functions from unwinding into
/// libtorch. TorchSharp calls a function's backward from native code (the autograd engine, through a
/// callback with no handler of its own), so an exception leaving it ends the process with SIGABRT
/// and a page of C++ frames. Each backward runs its body through <see cref="Guard"/>, which keeps the
/// pass's first failure and hands the engine gradients it rejects, so the engine itself fails the pass
/// and <c>backward()</c> throws on the caller's thread. <see cref="Run"/> is that call with the kept
/// failure as the error. The engine runs a CPU pass on the thread that called backward, so the failure
/// is kept per thread, as <see cref="GradientHandoff"/> keeps its gradients.
/// </summary>
public static class SafeBackward
{
    [ThreadStatic] private static BackwardException? failure;

    /// <summary><c>loss.backward()</c>; a failure inside one of our functions' backward comes back as a <see cref="BackwardException"/>.</summary>
    public static void Run(Tensor loss)
    {
        failure = null;
        try
        {
            loss.backward();
        }
        catch (Exception) when (failure is not null)
        {
            // The engine's own error only says that a gradient was invalid; the kept one says why.
        }
        finally
        {
            GradientHandoff.ReleasePrevious();
        }
        if (failure is { } kept)
        {
            failure = null;
            throw kept;
        }
    }

    /// <summary>Runs a backward body; never throws.</summary>
    /// <param name="inputs">How many gradients the function returns (one per forward input).</param>
    internal static List<Tensor> Guard(string function, int inputs, Func<List<Tensor>> backward)
    {
        try
        {
            return backward();
        }
        catch (Exception e)
        {
            failure ??= new BackwardException(function, e);
            return Rejected(inputs);
        }
    }

    // An empty tensor fits no input's shape: the engine stops the pass with an error of its own.
    // Should even that allocation fail, undefined gradients at least keep the process alive.
    private static List<Tensor> Rejected(int inputs)
    {
        try
        {
            using var scope = NewDisposeScope();
            var rejected = Enumerable.Range(0, inputs).Select(_ => empty(0)).ToArray();
            return GradientHandoff.Hand(rejected);
        }
        catch (Exception)
        {
            return [.. new Tensor[inputs]];
        }
    }
}
