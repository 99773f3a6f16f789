namespace MatMulFree.Serving;

/// <summary>
/// The generator seed of one turn: SplitMix64 of (session seed, turn number) alone, stable across
/// processes (unlike HashCode), so a turn draws the same tokens whichever batch, silo or device
/// computes it, and after any failover.
/// </summary>
public static class TurnSeed
{
    public static ulong For(ulong sessionSeed, long turn)
    {
        ulong z = sessionSeed + 0x9E3779B97F4A7C15UL * (ulong)(turn + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
