using MatMulFree.Core.SafeTensors;
using MatMulFree.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MatMulFree.Training;

/// <summary>
/// One replica of a data-parallel run: the model, its AdamW state and the flat gradient vector
/// the all-reduce works on. A step is two synchronous halves around the all-reduce:
/// <see cref="ComputeGradients"/> (forward and backward over this rank's micro-batches, each loss
/// scaled by 1/M so that the sum over ranks is the mean over the global batch) and
/// <see cref="Apply"/> (the reduced gradient: clip, schedule, AdamW). Every method must be called
/// from one thread (a <see cref="TorchThread"/>): TorchSharp's dispose scopes are per thread.
/// </summary>
public sealed class ReplicaTrainer : IDisposable
{
    public const string WeightsFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string OptionsFile = "training.json";

    private readonly List<(string Name, Parameter Parameter)> parameters;
    private readonly AdamW optimizer;
    private readonly FlatGradients flat;

    public ReplicaTrainer(TrainingOptions options, TokenDataset data)
    {
        options.Validate();
        if (data.Manifest.VocabSize > options.Model.VocabSize)
            throw new TrainingException($"--data {data.Source}: tokenized with a vocabulary of {data.Manifest.VocabSize}, the model has only {options.Model.VocabSize}");
        Options = options;
        Sampler = new BatchSampler(data, options.SequenceLength, options.MicroBatch, options.MicroBatchesPerStep, options.Seed);
        Model = ModelInitialization.CreateRandom(options.Model, checked((int)options.Seed));
        parameters = Model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        optimizer = new AdamW(parameters, options.AdamW);
        flat = new FlatGradients(parameters.Select(p => p.Parameter));
        Gradient = new float[flat.Length];
    }

    public TrainingOptions Options { get; }
    public BatchSampler Sampler { get; }
    public MatMulFreeLM Model { get; }

    /// <summary>Optimizer steps applied so far.</summary>
    public long Step => optimizer.StepCount;

    /// <summary>This rank's gradient after <see cref="ComputeGradients"/>; the all-reduce reduces it in place.</summary>
    public float[] Gradient { get; }

    /// <summary>
    /// Forward and backward over <paramref name="microBatches"/> of step <paramref name="step"/>,
    /// accumulating into <see cref="Gradient"/>.
    /// </summary>
    /// <returns>This rank's share of the global mean loss (the ranks' shares sum to it).</returns>
    public double ComputeGradients(long step, IReadOnlyList<int> microBatches)
    {
        if (step != Step + 1)
            throw new InvalidOperationException($"replica is at step {Step}; asked to compute step {step}");
        // One scope over the whole step holds every temporary wrapper until the step is done: a
        // wrapper left to the GC can be finalized while native code still uses its tensor.
        using var stepScope = NewDisposeScope();
        Model.train();
        foreach (var (_, p) in parameters) p.grad = null;
        double share = 0;
        using Scalar scale = (1f / Options.MicroBatchesPerStep).ToScalar(); // outlives every call that reads it (see TorchScalars)
        foreach (int micro in microBatches)
        {
            using var scope = NewDisposeScope();
            using var ids = tensor(Sampler.Batch(step, micro), [Options.MicroBatch, Options.SequenceLength]); // (b, T)
            var loss = Model.Loss(ids).mul(scale); // ()
            SafeBackward.Run(loss);
            share += loss.item<float>();
        }
        flat.Gather(Gradient);
        return share;
    }

    /// <summary>
    /// Applies step <paramref name="step"/> with the reduced (summed over ranks) gradient in
    /// <paramref name="reduced"/>: global-norm clip, the schedule's rate, AdamW.
    /// </summary>
    public (double LearningRate, double GradientNorm) Apply(long step, float[] reduced)
    {
        if (step != Step + 1)
            throw new InvalidOperationException($"replica is at step {Step}; asked to apply step {step}");
        using var stepScope = NewDisposeScope();
        double norm = GlobalNorm(reduced);
        if (Options.ClipNorm > 0 && norm > Options.ClipNorm)
        {
            float factor = (float)(Options.ClipNorm / (norm + 1e-6));
            for (int i = 0; i < reduced.Length; i++) reduced[i] *= factor;
        }
        flat.Scatter(reduced);
        double rate = Options.Schedule.RateAt(step);
        optimizer.Step(rate);
        foreach (var (_, p) in parameters) p.grad = null;
        return (rate, norm);
    }

    /// <summary>L2 norm of a gradient vector, summed in double in index order so every replica gets the same value.</summary>
    public static double GlobalNorm(ReadOnlySpan<float> gradient)
    {
        double sum = 0;
        foreach (float g in gradient) sum += (double)g * g;
        return Math.Sqrt(sum);
    }

    public string ParameterHash()
    {
        using var scope = NewDisposeScope();
        return Training.ParameterHash.Of(parameters);
    }

    /// <summary>Writes weights (+ config.json), optimizer state, options and <paramref name="state"/> into <paramref name="directory"/>.</summary>
    public void Save(string directory, TrainerState state)
    {
        if (state.Step != Step) throw new InvalidOperationException($"trainer state is for step {state.Step}, the replica is at {Step}");
        using var scope = NewDisposeScope();
        ModelCheckpoint.Save(Model, directory);
        SafeTensorsWriter.Write(Path.Combine(directory, OptimizerFile), optimizer.StateTensors(),
            new Dictionary<string, string> { ["step"] = Step.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        File.WriteAllText(Path.Combine(directory, OptionsFile), Options.ToJson());
        File.WriteAllText(Path.Combine(directory, TrainerState.FileName), state.ToJson());
    }

    /// <summary>Restores weights and optimizer state from a checkpoint folder written by <see cref="Save"/>.</summary>
    public TrainerState Load(string directory)
    {
        string statePath = Path.Combine(directory, TrainerState.FileName);
        if (!File.Exists(statePath)) throw new TrainingException($"{directory}: not a training checkpoint (no {TrainerState.FileName})");
        var state = TrainerState.Parse(File.ReadAllText(statePath), statePath);
        using var scope = NewDisposeScope();
        using (var weights = SafeTensorsCheckpoint.Open(directory))
            ModelCheckpoint.LoadInto(Model, weights);
        using (var moments = SafeTensorsFile.Open(Path.Combine(directory, OptimizerFile)))
            optimizer.LoadState(moments, state.Step);
        string hash = ParameterHash();
        if (hash != state.ParameterHash)
            throw new TrainingException($"{directory}: weights hash to {hash}, {TrainerState.FileName} says {state.ParameterHash}");
        return state;
    }

    public void Dispose()
    {
        optimizer.Dispose();
        Model.Dispose();
    }
}
