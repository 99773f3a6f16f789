namespace MatMulFree.Grains.Serving;

/// <summary>
/// The durable part of a session, written after every completed turn with the Orleans binary
/// serializer: the engine's serialized recurrent state travels as one byte array, never as JSON floats.
/// </summary>
[GenerateSerializer]
public sealed class SessionRecord
{
    [Id(0)] public string Model { get; set; } = "";
    [Id(1)] public string Owner { get; set; } = "";
    [Id(2)] public SamplingSettings Sampling { get; set; } = SamplingSettings.Greedy;

    /// <summary><c>RecurrentState.Serialize()</c> after the last completed turn; null before the first.</summary>
    [Id(3)] public byte[]? State { get; set; }

    /// <summary>The last generated token, not yet absorbed into <see cref="State"/>: the next turn feeds it first.</summary>
    [Id(4)] public int PendingToken { get; set; } = -1;

    [Id(5)] public long Tokens { get; set; }
    [Id(6)] public int Turns { get; set; }

    /// <summary>New on every creation, so a backend's cached state of a deleted namesake is never reused.</summary>
    [Id(7)] public Guid Incarnation { get; set; }

    [Id(8)] public DateTimeOffset Created { get; set; }
    [Id(9)] public DateTimeOffset Updated { get; set; }
    [Id(10)] public bool Ephemeral { get; set; }
}
