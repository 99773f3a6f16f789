using System.Text.Json;
using System.Text.Json.Nodes;

namespace MatMulFree.Core;

/// <summary>Typed access to a JSON config object whose every error names the key and the file.</summary>
internal sealed class ConfigReader(JsonObject root, string source)
{
    public string RequiredString(string key) => Text(key, Node(key, required: true)) ?? throw Wrong(key, "a string");

    public int RequiredPositiveInt(string key) => PositiveInt(key, null);

    /// <summary>The key's value if it is present and positive, null if it is absent (or JSON null).</summary>
    public int? OptionalPositiveInt(string key) => Node(key, required: false) is null ? null : PositiveInt(key, null);

    /// <summary>A string key that may take only the given values (the first is the default).</summary>
    public string OneOf(string key, string fallback, string[] supported)
    {
        JsonNode? node = Node(key, required: false);
        if (node is null) return fallback;
        string value = Text(key, node) ?? throw Wrong(key, "a string");
        return supported.Contains(value, StringComparer.Ordinal)
            ? value
            : throw new ModelConfigException($"{source}: \"{key}\" is \"{value}\", which is not supported (supported: {string.Join(", ", supported)})");
    }

    public int PositiveInt(string key, int? fallback)
    {
        int value = Int(key, fallback);
        return value > 0 ? value : throw new ModelConfigException($"{source}: \"{key}\" must be positive, got {value}");
    }

    public int NonNegativeInt(string key, int fallback)
    {
        int value = Int(key, fallback);
        return value >= 0 ? value : throw new ModelConfigException($"{source}: \"{key}\" must not be negative, got {value}");
    }

    public float PositiveFloat(string key, float fallback)
    {
        JsonNode? node = Node(key, required: false);
        if (node is null) return fallback;
        // Checked after the narrowing too: 1e-50 becomes 0 as a float and 1e300 infinity.
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d)
            && (float)d is > 0 and var f && float.IsFinite(f))
            return f;
        throw Wrong(key, "a positive number that fits a float");
    }

    public bool Bool(string key, bool fallback)
    {
        JsonNode? node = Node(key, required: false);
        if (node is null) return fallback;
        return node is JsonValue v && v.TryGetValue(out bool b) ? b : throw Wrong(key, "true or false");
    }

    private int Int(string key, int? fallback)
    {
        JsonNode? node = Node(key, required: fallback is null);
        if (node is null) return fallback!.Value;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d)
            && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
            return (int)d;
        throw Wrong(key, "a whole number");
    }

    private string? Text(string key, JsonNode? node)
    {
        try
        {
            return node is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        }
        catch (InvalidOperationException)
        {
            // The string escapes a lone surrogate ("\uD800"): it is no text at all.
            throw Wrong(key, "a string of valid text");
        }
    }

    // A key present with JSON null counts as absent (Hugging Face writes "intermediate_size": null).
    private JsonNode? Node(string key, bool required)
    {
        root.TryGetPropertyValue(key, out JsonNode? node);
        if (node is null && required)
            throw new ModelConfigException($"{source}: required key \"{key}\" is missing");
        return node;
    }

    private ModelConfigException Wrong(string key, string expected) =>
        new($"{source}: \"{key}\" must be {expected}, got {Shown(root[key])}");

    private static string Shown(JsonNode? node)
    {
        try
        {
            return node?.ToJsonString() ?? "null";
        }
        catch (InvalidOperationException)
        {
            return "a string with a lone surrogate";
        }
    }
}
