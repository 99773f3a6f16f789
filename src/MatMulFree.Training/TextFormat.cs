namespace MatMulFree.Training;

/// <summary>How <see cref="TextSources"/> reads an input file into documents.</summary>
public enum TextFormat
{
    /// <summary>By extension: <c>.jsonl</c> is <see cref="JsonLines"/>, anything else <see cref="Text"/>.</summary>
    Auto,

    /// <summary>One document per file, UTF-8.</summary>
    Text,

    /// <summary>One JSON object per line with a string field <c>text</c>; each line a document.</summary>
    JsonLines,

    /// <summary>
    /// The Brown corpus in its tagged form (<c>word/tag</c> tokens): tags are stripped and the
    /// text detokenized; files that are not tagged text (README, CONTENTS) are skipped.
    /// </summary>
    BrownTagged,
}
