using System.Diagnostics;
using MatMulFree.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// The paper's "unoptimised fp32 baseline" for generation: random weights of a config, ternary
/// values precomputed once into dense fp32 matrices (4 bytes read per weight per step), one token
/// per row per step with the recurrent state. The inference engine is measured against it.
/// </summary>
public static class TorchDecodeBenchmark
{
    /// <summary>Generated tokens per second over all rows, after one warm-up step; greedy feedback.</summary>
    public static double TokensPerSecond(ModelConfig config, int batch, int steps, int seed = 0)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "needs at least one row");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "needs at least one timed step");
        return DedicatedThread.Run("torch-decode-bench", () =>
        {
            // libtorch's thread count is process-wide: use every core for the measurement, then give it back.
            int threadsBefore = get_num_threads();
            set_num_threads(Environment.ProcessorCount);
            try
            {
                return Measure(config, batch, steps, seed);
            }
            finally
            {
                set_num_threads(threadsBefore);
            }
        });
    }

    private static double Measure(ModelConfig config, int batch, int steps, int seed)
    {
        using var model = ModelInitialization.CreateRandom(config, seed);
        model.PrepareForInference();
        using var noGrad = no_grad();
        using var state = TorchRecurrentState.Zeros(config, batch);
        using var generator = new Generator((ulong)seed);
        var ids = randint(config.VocabSize, [batch], generator: generator).DetachFromDisposeScope(); // (B)

        ids = Advance(model, ids, state);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++)
            ids = Advance(model, ids, state);
        clock.Stop();
        ids.Dispose();
        return (double)batch * steps / clock.Elapsed.TotalSeconds;
    }

    /// <summary>The bytes of every parameter held as fp32, the size of this baseline's weights.</summary>
    public static long Fp32ParameterBytes(ModelConfig config) =>
        ParameterNames.All(config).Sum(p => p.Shape.Aggregate(1L, (n, s) => n * s)) * sizeof(float);

    private static Tensor Advance(MatMulFreeLM model, Tensor ids, TorchRecurrentState state)
    {
        using var scope = NewDisposeScope();
        var next = model.Step(ids, state).argmax(-1); // (B)
        ids.Dispose();
        return next.DetachFromDisposeScope();
    }
}
