namespace MatMulFree.Training;

/// <summary>
/// One rank's side of a reduce-scatter/all-gather all-reduce of a gradient vector of
/// <see cref="Length"/> floats over <see cref="Ranks"/> ranks. The vector is cut into one
/// contiguous segment per rank (<see cref="GradientChunks.Segment"/>); every rank sends each peer
/// that peer's segment of its gradient (<see cref="Receive"/> collects them), the owner sums the
/// contributions, then sends the sum to every peer. Contributions are kept per sender and summed in
/// rank order once all are in, so the result does not depend on the order messages arrive in:
/// every replica, and every rerun, gets bit-identical sums. Each rank sends (W−1)/W of the vector
/// in each phase, as a ring does, in two rounds of parallel calls instead of 2(W−1) sequential ones.
/// Not thread-safe: the owner (one grain activation) serialises the calls.
/// </summary>
public sealed class ReduceScatterBuffers
{
    private readonly float[]?[] contributions; // by sender rank, each the size of this rank's segment
    private readonly long[] receivedFloats;

    public ReduceScatterBuffers(int length, int rank, int ranks)
    {
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {ranks}");
        Length = length;
        Rank = rank;
        Ranks = ranks;
        (SegmentStart, SegmentCount) = GradientChunks.Segment(length, rank, ranks);
        contributions = new float[ranks][];
        receivedFloats = new long[ranks];
    }

    public int Length { get; }
    public int Rank { get; }
    public int Ranks { get; }
    public int SegmentStart { get; }
    public int SegmentCount { get; }

    /// <summary>The step whose contributions are being collected; a chunk of another step is refused.</summary>
    public long Step { get; private set; } = -1;

    /// <summary>Starts collecting the contributions of <paramref name="step"/>, dropping whatever an abandoned step left.</summary>
    public void Begin(long step)
    {
        Step = step;
        Array.Clear(receivedFloats);
    }

    /// <summary>A chunk of <paramref name="sender"/>'s gradient inside this rank's segment (offset in the whole vector).</summary>
    public void Receive(long step, int sender, int offset, ReadOnlySpan<byte> bytes)
    {
        if (step != Step) throw new InvalidOperationException($"rank {Rank} collects step {Step}; got a chunk of step {step} from rank {sender}");
        int count = bytes.Length / sizeof(float);
        if (offset < SegmentStart || offset + count > SegmentStart + SegmentCount)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset + count}) is outside rank {Rank}'s segment [{SegmentStart}, {SegmentStart + SegmentCount})");
        var buffer = contributions[sender] ??= new float[SegmentCount];
        GradientChunks.CopyInto(buffer, offset - SegmentStart, bytes);
        receivedFloats[sender] += count;
    }

    /// <summary>True once every rank's whole segment has arrived (this rank's own included).</summary>
    public bool IsComplete => receivedFloats.All(n => n == SegmentCount);

    /// <summary>Sums the contributions in rank order into <paramref name="gradient"/>'s segment.</summary>
    public void Reduce(float[] gradient)
    {
        if (!IsComplete)
        {
            var missing = Enumerable.Range(0, Ranks).Where(r => receivedFloats[r] != SegmentCount);
            throw new InvalidOperationException($"rank {Rank} cannot reduce step {Step}: segments missing from rank(s) {string.Join(", ", missing)}");
        }
        var target = gradient.AsSpan(SegmentStart, SegmentCount);
        contributions[0]!.AsSpan().CopyTo(target);
        for (int r = 1; r < Ranks; r++)
        {
            var source = contributions[r]!;
            for (int i = 0; i < target.Length; i++) target[i] += source[i];
        }
    }
}
