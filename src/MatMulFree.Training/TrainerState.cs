using System.Text.Json;

namespace MatMulFree.Training;

/// <summary>
/// <c>trainer_state.json</c> of a checkpoint: the step it was taken after, where the data stream
/// stands, the seeds, and the metrics of every step so far. The run draws no random numbers
/// during a step (no dropout; the data order is a function of seed and step, see
/// <see cref="BatchSampler"/>), so the seed and the data position are the whole RNG state.
/// </summary>
public sealed record TrainerState(long Step, long DataPosition, long Seed, string ParameterHash, IReadOnlyList<StepMetrics> Metrics)
{
    public const string FileName = "trainer_state.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainerState Parse(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(json, Json) ?? throw new TrainingException($"{source}: empty trainer state");
        }
        catch (JsonException e)
        {
            throw new TrainingException($"{source}: not a valid trainer state ({e.Message})", e);
        }
    }
}
