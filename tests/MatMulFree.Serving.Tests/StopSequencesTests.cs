using MatMulFree.Silo.Http;

namespace MatMulFree.Serving.Tests;

public sealed class StopSequencesTests
{
    private static (string Text, bool Stopped) Run(string[] stops, params string[] pieces)
    {
        var matcher = new StopSequences(stops);
        string text = string.Concat(pieces.Select(matcher.Push));
        return matcher.Stopped ? (text, true) : (text + matcher.Flush(), false);
    }

    [Fact]
    public void StopSequences_Push_StopStringSpanningPiecesIsCutWithWhatPrecedesIt()
    {
        Assert.Equal(("Hello ", true), Run(["wor"], "Hel", "lo w", "o", "rld"));
    }

    [Fact]
    public void StopSequences_Push_HoldsBackOnlyWhatMayBeginAStopString()
    {
        var matcher = new StopSequences(["\n\n"]);
        Assert.Equal("a", matcher.Push("a\n"));
        Assert.Equal("\nb", matcher.Push("b"));
        Assert.False(matcher.Stopped);
    }

    [Fact]
    public void StopSequences_Push_TheEarliestOfSeveralStopsWins()
    {
        Assert.Equal(("x", true), Run(["yz", "y"], "xyz"));
        Assert.Equal(("ab", true), Run(["cd", "bcx", "c"], "a", "b", "cd"));
    }

    [Fact]
    public void StopSequences_Flush_ReleasesAHeldTailThatNeverBecameAStop()
    {
        Assert.Equal(("the en", false), Run(["end."], "the ", "en"));
    }
}
