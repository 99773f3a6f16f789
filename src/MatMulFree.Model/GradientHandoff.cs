using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// Keeps the gradients a custom autograd function returns alive exactly as long as libtorch needs
/// the C# handles. TorchSharp's native node copies each returned tensor after <c>backward</c>
/// returns, so the C# wrappers cannot be disposed inside <c>backward</c>; left to the garbage
/// collector (which feels no pressure from native memory) they would pin every gradient of the
/// pass and erase the memory that recomputation saves. The engine has copied them by the time the
/// next custom backward starts on the same thread, so each call releases its predecessor's.
/// </summary>
internal static class GradientHandoff
{
    [ThreadStatic] private static List<Tensor>? _pending;

    /// <summary>Disposes what the previous custom backward on this thread handed over.</summary>
    public static void ReleasePrevious()
    {
        if (_pending is null) return;
        foreach (Tensor t in _pending) t.Dispose();
        _pending.Clear();
    }

    /// <summary>Takes the gradients out of the current dispose scope and remembers them for release.</summary>
    public static List<Tensor> Hand(params Tensor[] gradients)
    {
        _pending ??= [];
        foreach (Tensor g in gradients)
        {
            g.DetachFromDisposeScope();
            _pending.Add(g);
        }
        return [.. gradients];
    }
}
