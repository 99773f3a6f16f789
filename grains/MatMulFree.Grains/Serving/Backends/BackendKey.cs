namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// A backend grain's key, "{model}|{silo}": the model it serves and the parsable address of the
/// silo whose hardware it fronts (the placement director activates it there and nowhere else).
/// </summary>
public static class BackendKey
{
    public const char Separator = '|';

    public static string Format(string model, string silo)
    {
        if (model.Contains(Separator))
            throw new ServingRequestException($"model name '{model}' must not contain '{Separator}'");
        return $"{model}{Separator}{silo}";
    }

    public static (string Model, string Silo) Parse(string key)
    {
        int at = key.IndexOf(Separator);
        if (at <= 0 || at == key.Length - 1)
            throw new BackendUnavailableException($"'{key}' is not a backend key (expected MODEL{Separator}SILO)");
        return (key[..at], key[(at + 1)..]);
    }
}
