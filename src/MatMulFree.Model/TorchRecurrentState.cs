using MatMulFree.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// Everything a conversation carries from one token to the next: the token mixer's h of every
/// layer, (B, d·e) each. Its size does not grow with the text (96 KiB per row for 370M).
/// The state owns its tensors, outside any dispose scope, and frees them when replaced or disposed.
/// </summary>
public sealed class TorchRecurrentState : IDisposable
{
    private readonly Tensor[] _layers;

    private TorchRecurrentState(Tensor[] layers) => _layers = layers;

    public int Layers => _layers.Length;
    public long Batch => _layers[0].shape[0];

    /// <summary>h_0 = 0 for every layer: the state before the first token.</summary>
    public static TorchRecurrentState Zeros(ModelConfig config, long batch)
    {
        var layers = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < layers.Length; i++)
            layers[i] = zeros(batch, config.MixerWidth).DetachFromDisposeScope(); // (B, d·e)
        return new TorchRecurrentState(layers);
    }

    /// <summary>The h of one layer, (B, d·e); owned by the state, do not dispose.</summary>
    public Tensor this[int layer] => _layers[layer];

    internal void Replace(int layer, Tensor h)
    {
        // A copy, not a view: h is often the last step of a (B, T, D) tensor we must not keep alive.
        var owned = h.detach().clone().DetachFromDisposeScope();
        _layers[layer].Dispose();
        _layers[layer] = owned;
    }

    public void Dispose()
    {
        foreach (Tensor t in _layers) t.Dispose();
    }
}
