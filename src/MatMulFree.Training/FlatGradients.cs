using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MatMulFree.Training;

/// <summary>
/// All of a model's gradients as one float vector, in parameter order, so the all-reduce moves
/// plain bytes in fixed-size chunks without knowing about tensors. <see cref="Gather"/> copies the
/// <c>.grad</c> of every parameter into the vector; <see cref="Scatter"/> writes a (reduced) vector back.
/// A parameter with no gradient contributes zeros, so every replica has the same layout.
/// </summary>
public sealed class FlatGradients
{
    private readonly IReadOnlyList<Parameter> parameters;
    private readonly long[] offsets;

    public FlatGradients(IEnumerable<Parameter> parameters)
    {
        this.parameters = parameters.ToList();
        offsets = new long[this.parameters.Count + 1];
        for (int i = 0; i < this.parameters.Count; i++)
            offsets[i + 1] = offsets[i] + this.parameters[i].numel();
        Length = offsets[^1];
        if (Length > Array.MaxLength)
            throw new TrainingException($"the model has {Length} parameters; a single gradient vector holds at most {Array.MaxLength}");
    }

    /// <summary>Number of floats: the model's parameter count.</summary>
    public long Length { get; }

    public int ByteLength => checked((int)Length * sizeof(float));

    /// <summary>Copies every parameter's gradient into <paramref name="destination"/> (length <see cref="Length"/>).</summary>
    public void Gather(float[] destination)
    {
        if (destination.LongLength != Length) throw new ArgumentException($"expected {Length} floats, got {destination.Length}", nameof(destination));
        for (int i = 0; i < parameters.Count; i++)
        {
            var slice = destination.AsSpan((int)offsets[i], (int)(offsets[i + 1] - offsets[i]));
            // Every wrapper held in a local until the copy is done: a temporary one may be finalized
            // by the GC while native code still reads its tensor (a segfault seen in a long run).
            using Tensor? grad = parameters[i].grad;
            if (grad is null)
            {
                slice.Clear();
                continue;
            }
            using Tensor dense = grad.contiguous();
            dense.data<float>().CopyTo(slice);
        }
    }

    /// <summary>Writes <paramref name="source"/> into every parameter's <c>.grad</c>, creating it when absent.</summary>
    public void Scatter(float[] source)
    {
        if (source.LongLength != Length) throw new ArgumentException($"expected {Length} floats, got {source.Length}", nameof(source));
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            Parameter p = parameters[i];
            var slice = source.AsSpan((int)offsets[i], (int)(offsets[i + 1] - offsets[i]));
            using var values = tensor(slice.ToArray(), p.shape);
            using Tensor? grad = p.grad;
            if (grad is null) p.grad = values.clone();
            else grad.copy_(values);
        }
    }

    /// <summary>The bytes of a float vector, no copy: what goes on the wire.</summary>
    public static Span<byte> AsBytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan());
}
