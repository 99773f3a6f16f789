namespace MatMulFree.Training;

/// <summary>
/// Which token sequences each rank trains on at each step, as a pure function of (seed, step,
/// micro-batch): no state to lose, so a resumed or re-sharded run reads exactly the sequences an
/// uninterrupted one would. The stream is cut into N sequences of T tokens; a step reads
/// <see cref="SequencesPerStep"/> of them as M micro-batches of b; micro-batch m goes to rank
/// m mod W. Global sequence k maps to sequence (a·k + c_e) mod N of epoch e = k / N — an affine
/// bijection with a coprime to N, a shuffle that needs no N-sized table.
/// </summary>
public sealed class BatchSampler
{
    private readonly int[] tokens;
    private readonly long multiplier;
    private readonly long seed;

    public BatchSampler(TokenDataset data, int sequenceLength, int microBatch, int microBatchesPerStep, long seed)
    {
        if (sequenceLength < 2) throw new TrainingException($"--seq must be at least 2 (one token predicts the next), got {sequenceLength}");
        if (microBatch < 1) throw new TrainingException($"--batch must be at least 1, got {microBatch}");
        if (microBatchesPerStep < 1) throw new TrainingException($"micro-batches per step must be at least 1, got {microBatchesPerStep}");
        tokens = data.Tokens;
        SequenceLength = sequenceLength;
        MicroBatch = microBatch;
        MicroBatchesPerStep = microBatchesPerStep;
        SequenceCount = tokens.Length / sequenceLength;
        if (SequenceCount < 1)
            throw new TrainingException($"--data {data.Source}: {tokens.Length} tokens is less than one sequence of --seq {sequenceLength}");
        this.seed = seed;
        multiplier = Coprime(SequenceCount, (long)(SequenceCount * 0.6180339887498949) + (long)(Mix(seed) % (ulong)SequenceCount));
    }

    public int SequenceLength { get; }
    public int MicroBatch { get; }
    public int MicroBatchesPerStep { get; }
    public long SequenceCount { get; }
    public long SequencesPerStep => (long)MicroBatch * MicroBatchesPerStep;
    public long TokensPerStep => SequencesPerStep * SequenceLength;

    /// <summary>The micro-batches rank <paramref name="rank"/> of <paramref name="ranks"/> computes each step.</summary>
    public IReadOnlyList<int> MicroBatchesOf(int rank, int ranks)
    {
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {ranks}");
        return Enumerable.Range(0, MicroBatchesPerStep).Where(m => m % ranks == rank).ToList();
    }

    /// <summary>Sequences consumed once step <paramref name="step"/> (1-based) is done: the resumable data position.</summary>
    public long PositionAfter(long step) => step * SequencesPerStep;

    /// <summary>Micro-batch <paramref name="micro"/> of step <paramref name="step"/> (1-based) as (b·T) ids, row-major.</summary>
    public long[] Batch(long step, int micro)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), "steps count from 1");
        if (micro < 0 || micro >= MicroBatchesPerStep) throw new ArgumentOutOfRangeException(nameof(micro));
        var ids = new long[(long)MicroBatch * SequenceLength];
        long first = PositionAfter(step - 1) + (long)micro * MicroBatch;
        for (int row = 0; row < MicroBatch; row++)
        {
            long start = SequenceIndex(first + row) * SequenceLength;
            for (int t = 0; t < SequenceLength; t++) ids[row * SequenceLength + t] = tokens[start + t];
        }
        return ids;
    }

    /// <summary>Which of the N sequences global sequence <paramref name="k"/> reads.</summary>
    public long SequenceIndex(long k)
    {
        long epoch = k / SequenceCount, within = k % SequenceCount;
        long offset = (long)(Mix(seed ^ (long)Mix(epoch + 1)) % (ulong)SequenceCount);
        return (long)((UInt128)(ulong)within * (ulong)multiplier % (ulong)SequenceCount + (ulong)offset) % SequenceCount;
    }

    private static long Coprime(long n, long candidate)
    {
        candidate = Math.Max(1, candidate % n);
        while (Gcd(candidate, n) != 1) candidate = candidate % n + 1;
        return candidate;
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    // SplitMix64: a well-mixed hash of the seed and epoch.
    private static ulong Mix(long value)
    {
        ulong z = (ulong)value + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
