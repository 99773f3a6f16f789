namespace MatMulFree.Core;

/// <summary>
/// The name a typo most likely meant, for "did you mean" in errors. Shared by every entry point
/// that parses flags (the CLI and the node executable) so a typo is answered alike in both.
/// </summary>
public static class NearestName
{
    /// <summary>
    /// The declared flag nearest to <paramref name="flag"/> by edit distance (a swap of two neighbours
    /// counts once), or one it is a prefix of; null when none is near enough to be what was meant.
    /// </summary>
    public static string? Closest(string flag, IEnumerable<string> declared)
    {
        string typed = flag.TrimStart('-');
        var scored = declared
            .Select(d => (Flag: d, Distance: Distance(typed, d.TrimStart('-'))))
            .OrderBy(s => s.Distance)
            .ThenBy(s => s.Flag, StringComparer.Ordinal)
            .ToList();
        if (scored.Count > 0 && scored[0].Distance <= Math.Max(2, typed.Length / 3))
            return scored[0].Flag;
        return declared.FirstOrDefault(d => typed.Length >= 3 && d.TrimStart('-').StartsWith(typed, StringComparison.Ordinal));
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
