using System.IO.Hashing;
using MatMulFree.Core;
using MatMulFree.Core.SafeTensors;

namespace MatMulFree.Engine;

/// <summary>
/// Turns latent weights (a Hugging Face checkpoint, fp32 or bf16) into the serving form, once:
/// every BitLinear weight to packed trits plus 1/s_w, embeddings to fp16, lower bounds to the
/// precomputed lb, norm gains to fp32. Also builds random models of a given shape for benchmarks.
/// </summary>
public static unsafe class ServingConverter
{
    /// <param name="embeddings">F16 (the serving default: half the bytes, see docs/benchmarks.md for its
    /// effect on the loss), I8Rows (a quarter, int8 with a scale per row) or F32 (exact, for comparison
    /// with fp32 references).</param>
    public static EngineModel FromCheckpoint(ITensorSource source, ModelConfig config, string sourceName,
        ServingTensorKind embeddings = ServingTensorKind.F16)
    {
        if (embeddings is not (ServingTensorKind.F16 or ServingTensorKind.F32 or ServingTensorKind.I8Rows))
            throw new EngineException($"embeddings must be stored as F16, I8Rows or F32, not {embeddings}");
        var arena = new PinnedArena();
        var tensors = new List<ServingTensor>();
        foreach (var (name, shape) in ParameterNames.All(config))
        {
            if (!source.Contains(name))
                throw new ServingFileException($"{sourceName}: tensor {name} is missing from the checkpoint");
            var values = source.ReadFloat32(name, shape);
            if (IsTernary(name))
                tensors.Add(Ternary(arena, name, values, (int)shape[0], (int)shape[1]));
            else if (name == ParameterNames.Embeddings)
                tensors.Add(Embeddings(arena, name, values, shape, embeddings));
            else if (name == ParameterNames.LowerBounds)
                tensors.Add(Float32(arena, EngineModel.LowerBoundsTensor, LowerBounds(values, config.NumHiddenLayers, config.HiddenSize), shape));
            else
                tensors.Add(Float32(arena, name, values, shape));
        }
        return new EngineModel(config, tensors, arena, sourceName);
    }

    /// <summary>
    /// A model of the given shape with random trits (uniform over −1, 0, +1), uniform(−1, 1) embeddings,
    /// unit norm gains and zero lower bounds: the 370M shape without a checkpoint, for benchmarks.
    /// </summary>
    public static EngineModel Random(ModelConfig config, int seed, ServingTensorKind embeddings = ServingTensorKind.F16)
    {
        if (embeddings is not (ServingTensorKind.F16 or ServingTensorKind.F32 or ServingTensorKind.I8Rows))
            throw new EngineException($"embeddings must be stored as F16, I8Rows or F32, not {embeddings}");
        var rng = new Random(seed);
        var arena = new PinnedArena();
        var tensors = new List<ServingTensor>();
        var fix = new byte[256];
        for (int b = 0; b < 256; b++)
        {
            int v = b;
            for (int f = 0; f < 4; f++)
                if (((v >> (2 * f)) & 3) == 3)
                    v &= ~(2 << (2 * f)); // code 3 is not a trit: 3 → 1 (T = 0)
            fix[b] = (byte)v;
        }
        foreach (var (name, shape) in ParameterNames.All(config))
        {
            if (IsTernary(name))
            {
                int rows = (int)shape[0], columns = (int)shape[1];
                var matrix = new PackedTernaryMatrix(rows, columns, 0.02f, null);
                byte* data = arena.Allocate(matrix.ByteLength);
                var span = new Span<byte>(data, checked((int)matrix.ByteLength));
                rng.NextBytes(span);
                for (int i = 0; i < span.Length; i++)
                    span[i] = fix[span[i]];
                tensors.Add(new ServingTensor(name, ServingTensorKind.Ternary2, shape, 0.02f, data, matrix.ByteLength, XxHash3.HashToUInt64(span)));
            }
            else if (name == ParameterNames.Embeddings)
            {
                var values = new float[shape[0] * shape[1]];
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)(rng.NextDouble() * 2 - 1);
                tensors.Add(Embeddings(arena, name, values, shape, embeddings));
            }
            else if (name == ParameterNames.LowerBounds)
                tensors.Add(Float32(arena, EngineModel.LowerBoundsTensor, LowerBounds(new float[shape[0] * shape[1]], config.NumHiddenLayers, config.HiddenSize), shape));
            else
                tensors.Add(Float32(arena, name, Enumerable.Repeat(1f, (int)shape[0]).ToArray(), shape));
        }
        return new EngineModel(config, tensors, arena, $"random {config.HiddenSize}x{config.NumHiddenLayers} seed {seed}");
    }

    /// <summary>Every BitLinear weight: the six block projections and the LM head.</summary>
    public static bool IsTernary(string name) =>
        name == ParameterNames.LmHead || (name.EndsWith("_proj.weight", StringComparison.Ordinal) && !name.EndsWith(".norm.weight", StringComparison.Ordinal));

    /// <summary>p = softmax over layers (per channel), lb = cumsum(p) − p[0]; row ℓ is layer ℓ's bound.</summary>
    public static float[] LowerBounds(ReadOnlySpan<float> raw, int layers, int width)
    {
        var lb = new float[layers * width];
        var p = new double[layers];
        for (int j = 0; j < width; j++)
        {
            double max = double.NegativeInfinity;
            for (int i = 0; i < layers; i++)
                max = Math.Max(max, raw[i * width + j]);
            double sum = 0;
            for (int i = 0; i < layers; i++)
                sum += p[i] = Math.Exp(raw[i * width + j] - max);
            double cumulative = 0;
            for (int i = 0; i < layers; i++)
            {
                cumulative += p[i] / sum;
                lb[i * width + j] = (float)(cumulative - p[0] / sum);
            }
        }
        return lb;
    }

    private static ServingTensor Ternary(PinnedArena arena, string name, float[] latent, int rows, int columns)
    {
        var probe = new PackedTernaryMatrix(rows, columns, 1, null);
        byte* data = arena.Allocate(probe.ByteLength);
        var span = new Span<byte>(data, checked((int)probe.ByteLength));
        float scale = WeightTernarizer.Pack(latent, rows, columns, span);
        return new ServingTensor(name, ServingTensorKind.Ternary2, [rows, columns], scale, data, probe.ByteLength, XxHash3.HashToUInt64(span));
    }

    private static ServingTensor Embeddings(PinnedArena arena, string name, float[] values, long[] shape, ServingTensorKind kind) => kind switch
    {
        ServingTensorKind.F16 => Half16(arena, name, values, shape),
        ServingTensorKind.I8Rows => Int8Rows(arena, name, values, shape),
        _ => Float32(arena, name, values, shape),
    };

    /// <summary>Each row: fp32 scale = max|row|/127, then round(x/scale) as int8 (symmetric, so 0 stays 0).</summary>
    private static ServingTensor Int8Rows(PinnedArena arena, string name, float[] values, long[] shape)
    {
        int rows = (int)shape[0], columns = (int)shape[1], stride = 4 + columns;
        long bytes = (long)rows * stride;
        byte* data = arena.Allocate(bytes);
        for (int r = 0; r < rows; r++)
        {
            var row = values.AsSpan(r * columns, columns);
            float max = 0;
            foreach (float v in row)
                max = MathF.Max(max, MathF.Abs(v));
            float scale = max > 0 ? max / 127f : 1f;
            byte* dst = data + (long)r * stride;
            *(float*)dst = scale;
            var q = new Span<sbyte>(dst + 4, columns);
            for (int j = 0; j < columns; j++)
                q[j] = (sbyte)Math.Clamp(MathF.Round(row[j] / scale), -127f, 127f);
        }
        return new ServingTensor(name, ServingTensorKind.I8Rows, shape, 1, data, bytes, XxHash3.HashToUInt64(new ReadOnlySpan<byte>(data, checked((int)bytes))));
    }

    private static ServingTensor Half16(PinnedArena arena, string name, float[] values, long[] shape)
    {
        long bytes = values.LongLength * 2;
        byte* data = arena.Allocate(bytes);
        var halves = new Span<Half>(data, values.Length);
        for (int i = 0; i < values.Length; i++)
            halves[i] = (Half)values[i];
        return new ServingTensor(name, ServingTensorKind.F16, shape, 1, data, bytes, XxHash3.HashToUInt64(new ReadOnlySpan<byte>(data, checked((int)bytes))));
    }

    private static ServingTensor Float32(PinnedArena arena, string name, float[] values, long[] shape)
    {
        long bytes = values.LongLength * 4;
        byte* data = arena.Allocate(bytes);
        values.AsSpan().CopyTo(new Span<float>(data, values.Length));
        return new ServingTensor(name, ServingTensorKind.F32, shape, 1, data, bytes, XxHash3.HashToUInt64(new ReadOnlySpan<byte>(data, checked((int)bytes))));
    }
}
