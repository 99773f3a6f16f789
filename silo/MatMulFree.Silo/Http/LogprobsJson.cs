using System.Text;
using MatMulFree.Core.Tokenization;
using MatMulFree.Grains.Serving;

namespace MatMulFree.Silo.Http;

/// <summary>
/// Log-probabilities as the OpenAI API writes them: for completions the parallel lists of
/// <c>tokens</c>, <c>token_logprobs</c>, <c>top_logprobs</c> (token text → log-probability) and
/// <c>text_offset</c>; for chat one <c>content</c> entry per token with its UTF-8 <c>bytes</c>.
/// A token is shown as the text it decodes to alone: a piece of a multi-byte character shows as U+FFFD.
/// </summary>
public static class LogprobsJson
{
    /// <param name="offset">Where the first token's text starts in the choice's text (after an echoed prompt, or earlier chunks).</param>
    public static object? Completion(ITextTokenizer tokenizer, IReadOnlyList<int> tokens, IReadOnlyList<TokenLogprobs> logprobs, int offset)
    {
        if (logprobs.Count == 0)
            return null;
        var texts = tokens.Take(logprobs.Count).Select(t => tokenizer.Decode([t])).ToArray();
        var offsets = new int[texts.Length];
        for (int i = 0; i < texts.Length; i++)
        {
            offsets[i] = offset;
            offset += texts[i].Length;
        }
        return new
        {
            tokens = texts,
            token_logprobs = logprobs.Select(l => l.Logprob),
            top_logprobs = logprobs.Select(l =>
            {
                var top = new Dictionary<string, float>(StringComparer.Ordinal);
                for (int i = 0; i < l.TopIds.Length; i++)
                    top.TryAdd(tokenizer.Decode([l.TopIds[i]]), l.TopLogprobs[i]);
                return top;
            }),
            text_offset = offsets,
        };
    }

    public static object? Chat(ITextTokenizer tokenizer, IReadOnlyList<int> tokens, IReadOnlyList<TokenLogprobs> logprobs)
    {
        if (logprobs.Count == 0)
            return null;
        return new
        {
            content = logprobs.Select((l, i) => new
            {
                token = tokenizer.Decode([tokens[i]]),
                logprob = l.Logprob,
                bytes = Bytes(tokenizer, tokens[i]),
                top_logprobs = l.TopIds.Select((id, k) => new { token = tokenizer.Decode([id]), logprob = l.TopLogprobs[k], bytes = Bytes(tokenizer, id) }),
            }),
        };
    }

    private static int[] Bytes(ITextTokenizer tokenizer, int id) => [.. Encoding.UTF8.GetBytes(tokenizer.Decode([id])).Select(b => (int)b)];
}
