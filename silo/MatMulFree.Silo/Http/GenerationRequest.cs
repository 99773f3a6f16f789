using System.Text.Json;
using MatMulFree.Grains.Serving;

namespace MatMulFree.Silo.Http;

/// <summary>The body fields of /v1/completions, /v1/chat/completions and session messages (each uses those it needs).</summary>
public sealed partial record GenerationRequest
{
    public string? Model { get; init; }
    public JsonElement Prompt { get; init; }
    public ChatMessage[]? Messages { get; init; }
    public string? Content { get; init; }
    public int[]? Tokens { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public ulong? Seed { get; init; }
    public bool? Stream { get; init; }

    /// <summary>Extension: false keeps generating past EOS (benchmarks that need exactly max_tokens).</summary>
    public bool? StopAtEos { get; init; }

    public SamplingSettings Sampling()
    {
        var sampling = new SamplingSettings(Temperature ?? 1f, TopK ?? 0, TopP ?? 1f, Seed ?? 0);
        try { sampling.ForTurn(0, 0); }
        // The engine names its CLI flags (--top-k); the body field is top_k. Only the flag is renamed: a
        // blanket '-' to '_' also turned the value's minus sign into one ("got _1").
        catch (Engine.EngineException e) { throw new ServingRequestException(CliFlag().Replace(e.Message, m => m.Groups[1].Value.Replace('-', '_'))); }
        return sampling;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"--([a-z]+(?:-[a-z]+)*)")]
    private static partial System.Text.RegularExpressions.Regex CliFlag();

    public int MaxTokensOr(int fallback, SiloSettings settings)
    {
        int value = MaxTokens ?? fallback;
        if (value < 0)
            throw new ServingRequestException($"max_tokens must be ≥ 0, got {value}");
        if (value > settings.MaxNewTokens)
            throw new ServingRequestException($"max_tokens is {value}, this server allows at most {settings.MaxNewTokens}");
        return value;
    }
}

public sealed record ChatMessage(string? Role, string? Content);
