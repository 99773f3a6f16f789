namespace MatMulFree.Core.Tokenization;

/// <summary>
/// Turns ids arriving one at a time into text as soon as it is complete. A multi-byte character
/// split over byte tokens (byte fallback) decodes to U+FFFD until its last byte arrives, so text
/// ending in U+FFFD is held back. Decoding the whole sequence each time keeps SentencePiece's
/// leading-space rule right; generations are short enough that this costs nothing that shows.
/// </summary>
public sealed class StreamingDecoder(Func<IReadOnlyList<int>, string> decode)
{
    private const int MaxHeldBack = 8; // a UTF-8 character is at most 4 byte tokens; beyond that it is truly invalid

    private readonly List<int> _ids = [];
    private int _emitted;

    /// <summary>Adds one id; returns the text that became complete (often empty).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        string text = decode(_ids);
        int end = text.Length;
        int held = 0;
        while (end > _emitted && text[end - 1] == '\uFFFD' && held < MaxHeldBack)
        {
            end--;
            held++;
        }
        if (held == MaxHeldBack) end = text.Length;
        if (end <= _emitted) return "";
        string fresh = text[_emitted..end];
        _emitted = end;
        return fresh;
    }

    /// <summary>Whatever is still held back (an incomplete character at the end of a generation).</summary>
    public string Flush()
    {
        string text = decode(_ids);
        string rest = text.Length > _emitted ? text[_emitted..] : "";
        _emitted = text.Length;
        return rest;
    }
}
