using System.Text.Json;

namespace MatMulFree.Training;

/// <summary>
/// The documents of the inputs of <c>mmf data prepare</c>: files, folders (every file below,
/// in ordinal path order so the same inputs always give the same token stream) and JSONL.
/// </summary>
public static class TextSources
{
    /// <summary>Every document of every input, in order; <paramref name="skipped"/> hears about files left out.</summary>
    public static IEnumerable<string> Documents(IEnumerable<string> inputs, TextFormat format, Action<string>? skipped = null)
    {
        foreach (string input in inputs)
        {
            IEnumerable<string> files = Directory.Exists(input)
                ? Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                : File.Exists(input) ? [input]
                : throw new TrainingException($"--input '{input}' is neither a file nor a folder");
            foreach (string file in files)
                foreach (string document in FileDocuments(file, format, skipped))
                    yield return document;
        }
    }

    private static IEnumerable<string> FileDocuments(string file, TextFormat format, Action<string>? skipped)
    {
        if (format == TextFormat.Auto)
            format = file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? TextFormat.JsonLines : TextFormat.Text;
        switch (format)
        {
            case TextFormat.JsonLines:
                int lineNumber = 0;
                foreach (string line in File.ReadLines(file))
                {
                    lineNumber++;
                    if (line.Trim().Length == 0) continue;
                    yield return JsonText(line, file, lineNumber);
                }
                break;
            case TextFormat.BrownTagged:
                string tagged = File.ReadAllText(file);
                if (BrownCorpus.LooksTagged(tagged)) yield return BrownCorpus.StripTags(tagged);
                else skipped?.Invoke($"{file}: not tagged Brown text, skipped");
                break;
            default:
                string text = File.ReadAllText(file);
                if (text.Length > 0) yield return text;
                break;
        }
    }

    private static string JsonText(string line, string file, int lineNumber)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                return text.GetString()!;
        }
        catch (JsonException e)
        {
            throw new TrainingException($"{file}:{lineNumber}: not valid JSON ({e.Message})", e);
        }
        throw new TrainingException($"{file}:{lineNumber}: expected an object with a string field \"text\"");
    }
}
