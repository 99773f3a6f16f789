using System.Text.Json;
using System.Text.RegularExpressions;
using MatMulFree.Grains.Serving;

namespace MatMulFree.Silo.Http;

/// <summary>
/// The body fields of /v1/completions, /v1/chat/completions and session messages (each uses those
/// it needs), and their checks: a field the endpoint does not implement is refused by name, never ignored.
/// </summary>
public sealed partial record GenerationRequest
{
    /// <summary>The most choices one request makes (<c>n</c> times the prompts): each is a turn in the batch.</summary>
    public const int MaxChoices = 16;

    public const int MaxStopStrings = 4;

    public string? Model { get; init; }
    public JsonElement Prompt { get; init; }
    public ChatMessage[]? Messages { get; init; }
    public string? Content { get; init; }
    public int[]? Tokens { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public ulong? Seed { get; init; }
    public bool? Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }
    public JsonElement Stop { get; init; }
    public int? N { get; init; }
    public bool? Echo { get; init; }
    public JsonElement Logprobs { get; init; }
    public int? TopLogprobs { get; init; }

    /// <summary>Extension: false keeps generating past EOS (benchmarks that need exactly max_tokens).</summary>
    public bool? StopAtEos { get; init; }

    /// <summary>Fields of no property above: those in <see cref="Unsupported"/> are refused, the rest (<c>user</c>, <c>metadata</c>, …) change nothing.</summary>
    [System.Text.Json.Serialization.JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; init; }

    /// <summary>OpenAI fields that would change the answer and that this server does not implement.</summary>
    private static readonly string[] Unsupported =
    [
        "best_of", "logit_bias", "suffix", "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call",
        "response_format", "modalities", "audio", "prediction", "reasoning_effort", "web_search_options",
    ];

    /// <summary>
    /// The request with a seed: its own, or one drawn now, which the response returns so the same
    /// request can be replayed. Drawn below 2^53, so it survives a JavaScript client's numbers.
    /// </summary>
    public GenerationRequest WithSeed() => Seed is null ? this with { Seed = (ulong)Random.Shared.NextInt64(1L << 53) } : this;

    public SamplingSettings Sampling()
    {
        var sampling = new SamplingSettings(Temperature ?? 1f, TopK ?? 0, TopP ?? 1f, Seed ?? 0, PresencePenalty ?? 0f, FrequencyPenalty ?? 0f);
        try { sampling.ForTurn(0, 0); }
        catch (Engine.EngineException e) { throw new ServingRequestException(FlagName().Replace(e.Message, m => m.Groups[1].Value.Replace('-', '_'))); }
        return sampling;
    }

    /// <summary>The engine names its options as command-line flags (--top-p); the API's fields are top_p.</summary>
    [GeneratedRegex("--([a-z]+(?:-[a-z]+)*)")]
    private static partial Regex FlagName();

    /// <summary>Choice <paramref name="index"/>'s seed: the request's for the first, distinct ones derived from it (SplitMix64) for the others.</summary>
    public static ulong ChoiceSeed(ulong seed, int index)
    {
        if (index == 0)
            return seed;
        ulong z = seed + 0x9E3779B97F4A7C15UL * (ulong)index;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public int MaxTokensOr(int fallback, SiloSettings settings)
    {
        int value = MaxTokens ?? fallback;
        if (value < 0)
            throw new ServingRequestException($"max_tokens must be ≥ 0, got {value}");
        if (value > settings.MaxNewTokens)
            throw new ServingRequestException($"max_tokens is {value}, this server allows at most {settings.MaxNewTokens}");
        return value;
    }

    /// <summary><c>stop</c>: absent, null, a string, or an array of up to 4 strings, none empty.</summary>
    public string[] StopStrings()
    {
        string[] stops = Stop.ValueKind switch
        {
            JsonValueKind.Undefined or JsonValueKind.Null => [],
            JsonValueKind.String => [Stop.GetString()!],
            JsonValueKind.Array when Stop.GetArrayLength() > MaxStopStrings
                => throw new ServingRequestException($"stop holds {Stop.GetArrayLength()} strings, at most {MaxStopStrings} are allowed"),
            JsonValueKind.Array => [.. Stop.EnumerateArray().Select((s, i) => s.ValueKind == JsonValueKind.String
                ? s.GetString()!
                : throw new ServingRequestException($"stop[{i}] must be a string, got {s.GetRawText()}"))],
            _ => throw new ServingRequestException($"stop must be a string or an array of up to {MaxStopStrings} strings, got {Stop.GetRawText()}"),
        };
        if (stops.Any(s => s.Length == 0))
            throw new ServingRequestException("stop strings must not be empty");
        return stops;
    }

    /// <summary><c>n</c>: choices per prompt, 1 by default; with <paramref name="prompts"/> prompts, at most <see cref="MaxChoices"/> in all.</summary>
    public int ChoicesPerPrompt(int prompts)
    {
        int n = N ?? 1;
        if (n < 1 || n > MaxChoices)
            throw new ServingRequestException($"n must be in [1, {MaxChoices}], got {n}");
        if (n * prompts > MaxChoices)
            throw new ServingRequestException($"{prompts} prompts with n = {n} make {n * prompts} choices, this server makes at most {MaxChoices} per request");
        return n;
    }

    public const int MaxCompletionLogprobs = 5, MaxChatTopLogprobs = 20;

    /// <summary>
    /// How many alternatives each token's log-probability comes with, −1 for no log-probabilities:
    /// completions take <c>logprobs</c> 0..5, chat <c>logprobs: true</c> with <c>top_logprobs</c> 0..20.
    /// </summary>
    public int TopLogprobsCount(bool chat)
    {
        if (chat)
        {
            bool on = Logprobs.ValueKind switch
            {
                JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.False => false,
                JsonValueKind.True => true,
                _ => throw new ServingRequestException($"logprobs must be true or false for chat completions, got {Logprobs.GetRawText()}"),
            };
            if (!on)
                return TopLogprobs is null ? -1 : throw new ServingRequestException("top_logprobs needs logprobs: true");
            int top = TopLogprobs ?? 0;
            return top is >= 0 and <= MaxChatTopLogprobs ? top
                : throw new ServingRequestException($"top_logprobs must be in [0, {MaxChatTopLogprobs}], got {top}");
        }
        if (TopLogprobs is not null)
            throw new ServingRequestException("top_logprobs is a field of /v1/chat/completions; completions take logprobs: N");
        if (Logprobs.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
            return -1;
        if (Logprobs.ValueKind != JsonValueKind.Number || !Logprobs.TryGetInt32(out int k) || k < 0 || k > MaxCompletionLogprobs)
            throw new ServingRequestException($"logprobs must be an integer in [0, {MaxCompletionLogprobs}] for completions, got {Logprobs.GetRawText()}");
        if (Echo == true)
            throw new ServingRequestException("echo with logprobs would need the prompt's log-probabilities, which this server does not compute: send echo or logprobs, not both");
        return k;
    }

    /// <summary>What both OpenAI endpoints refuse by name rather than ignore.</summary>
    public void CheckOpenAiFields(bool chat)
    {
        if (chat && Echo is not null)
            throw new ServingRequestException("echo is a field of /v1/completions, not of /v1/chat/completions");
        if (StreamOptions is not null && Stream != true)
            throw new ServingRequestException("stream_options is only allowed with stream: true");
        if (Content is not null || Tokens is not null)
            throw new ServingRequestException($"{(Content is not null ? "content" : "tokens")} is a field of session messages; this endpoint takes {(chat ? "messages" : "prompt")}");
        foreach (string name in Unsupported)
            if (Other?.GetValueOrDefault(name) is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) })
                throw new ServingRequestException($"{name} is not supported by this server");
        // Checked before the prompt is tokenized, so a bad field is named whatever else is wrong.
        StopStrings();
        TopLogprobsCount(chat);
    }

    /// <summary>A new session takes sampling fields only; what belongs to a turn is refused.</summary>
    public void CheckSessionFields()
    {
        var refused = new (string Name, bool Set)[]
        {
            ("stop", Stop.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)), ("n", N is not null), ("echo", Echo is not null),
            ("logprobs", Logprobs.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)), ("top_logprobs", TopLogprobs is not null),
            ("stream_options", StreamOptions is not null), ("max_tokens", MaxTokens is not null), ("stream", Stream is not null),
        };
        foreach (var (name, set) in refused)
            if (set)
                throw new ServingRequestException(name is "max_tokens" or "stream"
                    ? $"{name} is not a field of a new session: send it with each message"
                    : $"{name} is not a field of the sessions API");
    }

    /// <summary>A session message continues a session with its own sampling settings: fields that would change them are refused.</summary>
    public void CheckSessionMessageFields()
    {
        var refused = new (string Name, bool Set)[]
        {
            ("temperature", Temperature is not null), ("top_p", TopP is not null), ("top_k", TopK is not null), ("seed", Seed is not null),
            ("presence_penalty", PresencePenalty is not null), ("frequency_penalty", FrequencyPenalty is not null),
            ("stop", Stop.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)), ("n", N is not null), ("echo", Echo is not null),
            ("logprobs", Logprobs.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)), ("top_logprobs", TopLogprobs is not null),
            ("stream_options", StreamOptions is not null),
        };
        foreach (var (name, set) in refused)
            if (set)
                throw new ServingRequestException($"{name} is not a field of session messages (sampling is set when the session is created)");
    }
}

public sealed record ChatMessage(string? Role, string? Content);

public sealed record StreamOptions(bool? IncludeUsage);
