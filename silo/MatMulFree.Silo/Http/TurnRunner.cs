using MatMulFree.Core.Tokenization;
using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Http;

namespace MatMulFree.Silo.Http;

/// <summary>
/// Runs one turn of a session grain for an HTTP request: collected into one answer, or streamed as
/// server-sent events. The first token is awaited before the response starts, so a refused turn
/// (429, 404, 400) still gets its status code.
/// </summary>
public static class TurnRunner
{
    public sealed record Result(string Text, int[] Tokens, string FinishReason);

    /// <summary>Token ids of a prompt: every id checked against the model, the length against the limit.</summary>
    public static int[] Encode(ServedModel model, string text, bool addBos, SiloSettings settings)
    {
        var ids = model.Tokenizer.Encode(text, addBos).ToArray();
        return Check(model, ids, settings);
    }

    public static int[] Check(ServedModel model, int[] ids, SiloSettings settings)
    {
        if (ids.Length > settings.MaxPromptTokens)
            throw new ServingRequestException($"the prompt has {ids.Length} tokens, this server allows at most {settings.MaxPromptTokens}");
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)model.Config.VocabSize)
                throw new ServingRequestException($"token id {ids[i]} at index {i} is outside the vocabulary of model {model.Name} [0, {model.Config.VocabSize})");
        return ids;
    }

    public static async Task<Result> CollectAsync(ISessionGrain session, TurnInput input, ITextTokenizer tokenizer, CancellationToken cancellationToken)
    {
        var tokens = new List<int>();
        string finish = "length";
        await foreach (var e in session.TurnAsync(input, cancellationToken))
        {
            tokens.Add(e.Token);
            finish = e.FinishReason ?? finish;
        }
        return new Result(tokenizer.Decode(tokens), [.. tokens], finish);
    }

    /// <param name="chunk">Builds one SSE chunk from (text piece, token id, finish reason or null).</param>
    public static async Task<Result> StreamAsync(HttpResponse response, ISessionGrain session, TurnInput input, ITextTokenizer tokenizer,
        Func<string, int, string?, object> chunk, CancellationToken cancellationToken)
    {
        var decoder = tokenizer.CreateStreamingDecoder();
        var tokens = new List<int>();
        string finish = "length";
        await using var events = session.TurnAsync(input, cancellationToken).GetAsyncEnumerator(cancellationToken);
        bool more = await events.MoveNextAsync();
        ServerSentEvents.Start(response);
        var text = new System.Text.StringBuilder();
        while (more)
        {
            var e = events.Current;
            tokens.Add(e.Token);
            string piece = decoder.Push(e.Token);
            if (e.FinishReason is not null)
            {
                finish = e.FinishReason;
                piece += decoder.Flush();
            }
            text.Append(piece);
            await ServerSentEvents.WriteAsync(response, chunk(piece, e.Token, e.FinishReason));
            more = await events.MoveNextAsync();
        }
        if (tokens.Count == 0)
            await ServerSentEvents.WriteAsync(response, chunk("", -1, finish));
        await ServerSentEvents.DoneAsync(response);
        return new Result(text.ToString(), [.. tokens], finish);
    }
}
