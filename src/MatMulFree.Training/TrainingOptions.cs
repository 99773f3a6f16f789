using System.Text.Json;
using System.Text.Json.Nodes;
using MatMulFree.Core;

namespace MatMulFree.Training;

/// <summary>
/// Everything that decides what a run computes. Two runs with equal options on equal data reach
/// the same parameters; the number of workers is not in here, because it only decides who
/// computes which micro-batch (see <see cref="BatchSampler"/>), not what the step is.
/// </summary>
public sealed record TrainingOptions
{
    public required ModelConfig Model { get; init; }

    /// <summary>Sequences per micro-batch: what one worker runs forward and backward at once (--batch).</summary>
    public required int MicroBatch { get; init; }

    /// <summary>Micro-batches per optimizer step across all workers: the global batch is this × <see cref="MicroBatch"/>.</summary>
    public required int MicroBatchesPerStep { get; init; }

    /// <summary>Tokens per sequence (--seq).</summary>
    public required int SequenceLength { get; init; }

    public required long TotalSteps { get; init; }
    public required double PeakRate { get; init; }
    public required long WarmupSteps { get; init; }
    public double MinRateRatio { get; init; } = 0.1;
    public AdamWSettings AdamW { get; init; } = new();

    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Seeds the initial weights and the data order.</summary>
    public long Seed { get; init; } = 1234;

    [System.Text.Json.Serialization.JsonIgnore]
    public LearningRateSchedule Schedule => new(PeakRate, WarmupSteps, TotalSteps, MinRateRatio);

    /// <summary>Checks the flags a user sets; messages name the flag.</summary>
    public void Validate()
    {
        if (MicroBatch < 1) throw new TrainingException($"--batch must be at least 1, got {MicroBatch}");
        if (MicroBatchesPerStep < 1) throw new TrainingException($"--accumulate must be at least 1, got {MicroBatchesPerStep}");
        if (SequenceLength < 2) throw new TrainingException($"--seq must be at least 2, got {SequenceLength}");
        if (ClipNorm < 0) throw new TrainingException($"--clip must be 0 (off) or positive, got {ClipNorm}");
        Schedule.Validate();
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>JSON with the model as Hugging Face config.json text under "model": what checkpoints and grain calls carry.</summary>
    public string ToJson()
    {
        var root = JsonSerializer.SerializeToNode(this with { Model = null! }, Json)!.AsObject();
        root["model"] = JsonNode.Parse(Model.ToJson());
        return root.ToJsonString(Json);
    }

    /// <param name="source">Where the text came from, for error messages.</param>
    public static TrainingOptions Parse(string json, string source)
    {
        try
        {
            var root = JsonNode.Parse(json)?.AsObject() ?? throw new TrainingException($"{source}: training options must be a JSON object");
            var model = root["model"] ?? throw new TrainingException($"{source}: training options have no \"model\"");
            var config = ModelConfig.Parse(model.ToJsonString(), $"{source} (model)");
            root.Remove("model");
            root["model"] = null;
            var options = root.Deserialize<TrainingOptions>(Json) ?? throw new TrainingException($"{source}: empty training options");
            return options with { Model = config };
        }
        catch (JsonException e)
        {
            throw new TrainingException($"{source}: training options are not valid ({e.Message})", e);
        }
    }
}
