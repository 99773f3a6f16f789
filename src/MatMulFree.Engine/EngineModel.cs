using System.IO.Hashing;
using System.Text;
using MatMulFree.Core;

namespace MatMulFree.Engine;

/// <summary>
/// A model in serving form, read-only and shared by every session: packed ternary projections
/// (the LM head too), fp16 embeddings, fp32 norm gains and precomputed lower bounds. Built by
/// <see cref="ServingConverter"/> from latent weights or opened from a file by <see cref="ServingFile"/>.
/// </summary>
public sealed unsafe class EngineModel : IDisposable
{
    /// <summary>Name of the precomputed lower bounds lb = cumsum(softmax(lower_bounds)) − p[0], [L, d].</summary>
    public const string LowerBoundsTensor = "model.lower_bounds.lb";

    private readonly IDisposable? _owner;
    private readonly Dictionary<string, ServingTensor> _byName;
    private readonly ServingTensor _embeddings;

    public EngineModel(ModelConfig config, IReadOnlyList<ServingTensor> tensors, IDisposable? owner, string source)
    {
        Config = config;
        Tensors = tensors;
        _owner = owner;
        _byName = tensors.ToDictionary(t => t.Name);

        var embeddingKind = _byName.TryGetValue(ParameterNames.Embeddings, out var e) && e.Kind is ServingTensorKind.F32 or ServingTensorKind.I8Rows
            ? e.Kind : ServingTensorKind.F16;
        _embeddings = Require(ParameterNames.Embeddings, embeddingKind, source, config.VocabSize, config.HiddenSize);
        float[][]? lb = null;
        if (config.UseLowerBound)
        {
            var all = F32(LowerBoundsTensor, source, config.NumHiddenLayers, config.HiddenSize);
            lb = Enumerable.Range(0, config.NumHiddenLayers).Select(i => all.AsSpan(i * config.HiddenSize, config.HiddenSize).ToArray()).ToArray();
        }
        int d = config.HiddenSize, m = config.MixerWidth, l = config.IntermediateSize;
        Layers = Enumerable.Range(0, config.NumHiddenLayers).Select(i => new EngineLayer(
            F32(ParameterNames.Layer(i, "attn_norm.weight"), source, d),
            BitLinear(ParameterNames.Layer(i, "attn.i_proj"), source, m, d),
            BitLinear(ParameterNames.Layer(i, "attn.f_proj"), source, m, d),
            BitLinear(ParameterNames.Layer(i, "attn.g_proj"), source, m, d),
            BitLinear(ParameterNames.Layer(i, "attn.o_proj"), source, d, m),
            F32(ParameterNames.Layer(i, "attn.g_norm.weight"), source, m),
            i > 0 && lb is not null ? lb[i] : null,
            F32(ParameterNames.Layer(i, "mlp_norm.weight"), source, d),
            BitLinear(ParameterNames.Layer(i, "mlp.gate_proj"), source, 2 * l, d),
            BitLinear(ParameterNames.Layer(i, "mlp.down_proj"), source, d, l))).ToArray();
        FinalNorm = F32(ParameterNames.FinalNorm, source, d);
        LmHead = new BitLinearWeights(Ternary(ParameterNames.LmHead, source, config.VocabSize, d), F32(ParameterNames.LmHeadNorm, source, d));
        Identity = ComputeIdentity(config, tensors);
    }

    public ModelConfig Config { get; }
    public IReadOnlyList<ServingTensor> Tensors { get; }
    /// <summary>F16 or I8Rows normally; F32 when converted for exact comparison with the authors' fp32 outputs.</summary>
    public ServingTensorKind EmbeddingKind => _embeddings.Kind;

    /// <summary>Bytes of one embedding row as stored (what a token reads of the embeddings).</summary>
    public long EmbeddingRowBytes => _embeddings.ByteLength / Config.VocabSize;

    /// <summary>Writes row <paramref name="id"/> of the embeddings (the caller checked the id) as floats.</summary>
    public void Embed(int id, Span<float> destination)
    {
        int d = Config.HiddenSize;
        if (_embeddings.Kind == ServingTensorKind.F32)
            new ReadOnlySpan<float>((float*)_embeddings.Data + (long)id * d, d).CopyTo(destination);
        else if (_embeddings.Kind == ServingTensorKind.I8Rows)
        {
            byte* row = _embeddings.Data + (long)id * (4 + d);
            float scale = *(float*)row;
            var q = new ReadOnlySpan<sbyte>(row + 4, d);
            for (int j = 0; j < d; j++)
                destination[j] = q[j] * scale;
        }
        else
        {
            var row = new ReadOnlySpan<Half>((Half*)_embeddings.Data + (long)id * d, d);
            for (int j = 0; j < d; j++)
                destination[j] = (float)row[j];
        }
    }
    public IReadOnlyList<EngineLayer> Layers { get; }
    public float[] FinalNorm { get; }
    public BitLinearWeights LmHead { get; }

    /// <summary>
    /// XxHash3 of the config and every tensor's name, kind, shape, scale and checksum: a recurrent
    /// state carries it, so a state is never loaded into a model it does not belong to.
    /// </summary>
    public ulong Identity { get; }

    public string IdentityHex => Identity.ToString("x16");

    /// <summary>Bytes of all tensors: what the engine keeps resident for the weights.</summary>
    public long WeightBytes => Tensors.Sum(t => t.ByteLength);

    /// <summary>Bytes of the lookup-table group indices built so far (in memory only; see <see cref="Kernels.LutTernaryKernel"/>).</summary>
    public long LutIndexBytes => Layers.Sum(l => l.I.Weight.LutIndexBytes + l.F.Weight.LutIndexBytes + l.G.Weight.LutIndexBytes
        + l.O.Weight.LutIndexBytes + l.GateUp.Weight.LutIndexBytes + l.Down.Weight.LutIndexBytes) + LmHead.Weight.LutIndexBytes;

    /// <summary>Bytes of packed ternary weights a token reads at batch 1 (every projection and the LM head).</summary>
    public long TernaryBytes => Tensors.Where(t => t.Kind == ServingTensorKind.Ternary2).Sum(t => t.ByteLength);

    public static ulong ComputeIdentity(ModelConfig config, IEnumerable<ServingTensor> tensors)
    {
        var hash = new XxHash3();
        hash.Append(Encoding.UTF8.GetBytes(config.ToJson()));
        Span<byte> scratch = stackalloc byte[8];
        foreach (var t in tensors)
        {
            hash.Append(Encoding.UTF8.GetBytes(t.Name));
            BitConverter.TryWriteBytes(scratch, (long)t.Kind);
            hash.Append(scratch);
            foreach (long dim in t.Shape)
            {
                BitConverter.TryWriteBytes(scratch, dim);
                hash.Append(scratch);
            }
            BitConverter.TryWriteBytes(scratch, (double)t.Scale);
            hash.Append(scratch);
            BitConverter.TryWriteBytes(scratch, t.Checksum);
            hash.Append(scratch);
        }
        return hash.GetCurrentHashAsUInt64();
    }

    private BitLinearWeights BitLinear(string prefix, string source, int rows, int columns) =>
        new(Ternary(prefix + ".weight", source, rows, columns), F32(prefix + ".norm.weight", source, columns));

    private PackedTernaryMatrix Ternary(string name, string source, int rows, int columns)
    {
        var t = Require(name, ServingTensorKind.Ternary2, source, rows, columns);
        var matrix = new PackedTernaryMatrix(rows, columns, t.Scale, t.Data);
        if (matrix.ByteLength != t.ByteLength)
            throw new ServingFileException($"{source}: tensor {name} holds {t.ByteLength} bytes, packed [{rows}, {columns}] needs {matrix.ByteLength}");
        return matrix;
    }

    private float[] F32(string name, string source, params int[] shape)
    {
        var t = Require(name, ServingTensorKind.F32, source, shape);
        return new ReadOnlySpan<float>(t.Data, checked((int)(t.ByteLength / 4))).ToArray();
    }

    private ServingTensor Require(string name, ServingTensorKind kind, string source, params int[] shape)
    {
        if (!_byName.TryGetValue(name, out var t))
            throw new ServingFileException($"{source}: tensor {name} is missing");
        if (t.Kind != kind)
            throw new ServingFileException($"{source}: tensor {name} is {t.Kind}, expected {kind}");
        if (!t.Shape.SequenceEqual(shape.Select(s => (long)s)))
            throw new ServingFileException($"{source}: tensor {name} has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}]");
        long expected = kind switch
        {
            ServingTensorKind.F16 => shape.Aggregate(2L, (a, b) => a * b),
            ServingTensorKind.F32 => shape.Aggregate(4L, (a, b) => a * b),
            ServingTensorKind.I8Rows when shape.Length == 2 => (long)shape[0] * (4 + shape[1]),
            _ => t.ByteLength,
        };
        if (t.ByteLength != expected)
            throw new ServingFileException($"{source}: tensor {name} holds {t.ByteLength} bytes, its shape needs {expected}");
        return t;
    }

    public void Dispose() => _owner?.Dispose();
}
