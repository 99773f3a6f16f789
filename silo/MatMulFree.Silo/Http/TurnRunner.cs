using MatMulFree.Core.Tokenization;
using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Http;

namespace MatMulFree.Silo.Http;

/// <summary>
/// Runs one turn of a session grain for an HTTP request: collected into one answer, or streamed as
/// server-sent events. The first token is awaited before the response starts, so a refused turn
/// (429, 404, 400) still gets its status code. Stop strings end the turn early (the rest of it is
/// cancelled), and text that may begin one is held back until it is decided.
/// </summary>
public static class TurnRunner
{
    /// <param name="Logprobs">One per token when the turn asked for them; empty otherwise.</param>
    public sealed record Result(string Text, int[] Tokens, string FinishReason, TokenLogprobs[] Logprobs);

    /// <summary>Called per generated token with the text it releases (often "" while a stop string may be starting), its id, the finish reason on the last, and its log-probabilities when asked for.</summary>
    public delegate Task PieceHandler(string text, int token, string? finishReason, TokenLogprobs? logprobs);

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

    public static Task<Result> CollectAsync(ISessionGrain session, TurnInput input, ITextTokenizer tokenizer, CancellationToken cancellationToken) =>
        RunAsync(session, input, tokenizer, [], null, cancellationToken);

    /// <param name="chunk">Builds one SSE chunk from (text piece, token id, finish reason or null).</param>
    public static async Task<Result> StreamAsync(HttpResponse response, ISessionGrain session, TurnInput input, ITextTokenizer tokenizer,
        Func<string, int, string?, object> chunk, CancellationToken cancellationToken)
    {
        var writer = new EventWriter(response);
        var result = await RunAsync(session, input, tokenizer, [], (piece, token, finish, _) => writer.WriteAsync(chunk(piece, token, finish)), cancellationToken);
        await writer.DoneAsync();
        return result;
    }

    /// <summary>One turn, each token handed to <paramref name="onPiece"/> as it comes (when not null).</summary>
    public static async Task<Result> RunAsync(ISessionGrain session, TurnInput input, ITextTokenizer tokenizer, IReadOnlyList<string> stop,
        PieceHandler? onPiece, CancellationToken cancellationToken)
    {
        var decoder = tokenizer.CreateStreamingDecoder();
        var stops = new StopSequences(stop);
        var tokens = new List<int>();
        var logprobs = new List<TokenLogprobs>();
        var text = new System.Text.StringBuilder();
        string finish = "length";
        using var turn = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var events = session.TurnAsync(input, turn.Token).GetAsyncEnumerator(turn.Token);
        try
        {
            while (await events.MoveNextAsync())
            {
                var e = events.Current;
                tokens.Add(e.Token);
                if (e.Logprobs is not null)
                    logprobs.Add(e.Logprobs);
                string piece = decoder.Push(e.Token);
                if (e.FinishReason is not null)
                    piece += decoder.Flush();
                piece = stops.Push(piece);
                if (stops.Stopped)
                    finish = "stop";
                else if (e.FinishReason is not null)
                {
                    finish = e.FinishReason;
                    piece += stops.Flush();
                }
                bool last = stops.Stopped || e.FinishReason is not null;
                text.Append(piece);
                if (onPiece is not null)
                    await onPiece(piece, e.Token, last ? finish : null, e.Logprobs);
                if (last)
                    break;
            }
        }
        finally
        {
            // A stop string ends the turn before the backend does: cancel the rest of it.
            if (stops.Stopped)
                await turn.CancelAsync();
            try
            {
                await events.DisposeAsync();
            }
            catch (OperationCanceledException) when (stops.Stopped)
            {
            }
        }
        if (tokens.Count == 0 && onPiece is not null)
            await onPiece("", -1, finish, null);
        return new Result(text.ToString(), [.. tokens], finish, [.. logprobs]);
    }

    /// <summary>
    /// Server-sent events of one response, which several turns (the choices of a request) may
    /// write at once: one chunk at a time, the stream started by the first.
    /// </summary>
    public sealed class EventWriter(HttpResponse response)
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private bool _started;

        public async Task WriteAsync(object chunk)
        {
            await _gate.WaitAsync();
            try
            {
                if (!_started)
                {
                    ServerSentEvents.Start(response);
                    _started = true;
                }
                await ServerSentEvents.WriteAsync(response, chunk);
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task DoneAsync()
        {
            if (!_started)
                ServerSentEvents.Start(response);
            await ServerSentEvents.DoneAsync(response);
        }
    }
}
