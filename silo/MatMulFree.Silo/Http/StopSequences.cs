namespace MatMulFree.Silo.Http;

/// <summary>
/// OpenAI's <c>stop</c>: generated text is cut before the first occurrence of any stop string, which
/// is not returned. Text arrives piece by piece (one decoded token at a time), and a stop string may
/// span pieces, so a tail that could still begin one is held back until the next piece decides it.
/// </summary>
public sealed class StopSequences(IReadOnlyList<string> stops)
{
    private string _held = "";

    public bool Stopped { get; private set; }

    /// <summary>The text that can be emitted after <paramref name="piece"/>; once a stop string is complete, the text before it and <see cref="Stopped"/> set.</summary>
    public string Push(string piece)
    {
        if (Stopped)
            return "";
        string text = _held + piece;
        int cut = -1;
        foreach (string stop in stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut))
                cut = at;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _held = "";
            return text[..cut];
        }
        int hold = 0;
        foreach (string stop in stops)
            for (int k = Math.Min(stop.Length - 1, text.Length); k > hold; k--)
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
        _held = text[^hold..];
        return text[..^hold];
    }

    /// <summary>At the end of generation: what was held back is text after all.</summary>
    public string Flush()
    {
        string rest = _held;
        _held = "";
        return rest;
    }
}
