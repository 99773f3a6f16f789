using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;
using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace MatMulFree.Silo.Http;

/// <summary>
/// The OpenAI-compatible endpoints: GET /v1/models, POST /v1/completions, POST
/// /v1/chat/completions (<c>stream: true</c> as server-sent events). Each choice runs as one turn
/// of an ephemeral session (never persisted), so it batches with every other session; the choices
/// of a request (<c>n</c>, a list of prompts) run at once.
/// Extensions: <c>top_k</c>, <c>token_ids</c> in each choice, and <c>seed</c> in every answer (the
/// request's, or the one drawn for it); a completion prompt may be token ids.
/// </summary>
public static class OpenAiEndpoints
{
    private const int DefaultCompletionTokens = 16;
    private const int DefaultChatTokens = 256;

    public static void MapOpenAiEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", (HttpContext http, ModelCatalog catalog, SiloSettings settings) =>
        {
            ApiCaller.Owner(http, settings);
            return Results.Json(new
            {
                @object = "list",
                data = catalog.All.Select(m => new { id = m.Name, @object = "model", owned_by = "mmf", identity = m.Engine.IdentityHex }),
            }, ApiJson.Options);
        });
        // Not OpenAI: the backends the cluster knows (registry heartbeats), for operators and failover tests.
        app.MapGet("/v1/backends", async (HttpContext http, SiloSettings settings, IGrainFactory grains) =>
        {
            ApiCaller.Owner(http, settings);
            var backends = await grains.GetGrain<Grains.Serving.Backends.IBackendRegistryGrain>(Grains.Serving.Backends.IBackendRegistryGrain.Key).ListAsync();
            return Results.Json(new { @object = "list", data = backends }, ApiJson.Options);
        });
        app.MapPost("/v1/completions", CompletionAsync);
        app.MapPost("/v1/chat/completions", ChatAsync);
    }

    /// <summary>One prompt of a request: its token ids and, for <c>echo</c>, its text.</summary>
    private sealed record Prompt(int[] Tokens, string Text);

    private static async Task CompletionAsync(HttpContext http, ModelCatalog catalog, SiloSettings settings, IGrainFactory grains)
    {
        string owner = ApiCaller.Owner(http, settings);
        var request = (await ApiJson.ReadAsync<GenerationRequest>(http.Request, http.RequestAborted)).WithSeed();
        request.CheckOpenAiFields(chat: false);
        var model = catalog.Get(request.Model);
        var p = request.Prompt;
        Prompt[] prompts = p.ValueKind switch
        {
            JsonValueKind.String => [Text(p.GetString()!)],
            JsonValueKind.Array when p.GetArrayLength() == 0 => throw new ServingRequestException("prompt must not be an empty array"),
            JsonValueKind.Array when p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number) => [Ids(TokenIds(p, "prompt"))],
            JsonValueKind.Array when p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => [.. p.EnumerateArray().Select(e => Text(e.GetString()!))],
            JsonValueKind.Array when p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Array) => [.. p.EnumerateArray().Select((e, i) => Ids(TokenIds(e, $"prompt[{i}]")))],
            JsonValueKind.Array => throw new ServingRequestException("prompt must be a string, an array of strings, an array of token ids, or an array of arrays of token ids (not a mix)"),
            _ => throw new ServingRequestException("prompt is required: a string or an array of token ids"),
        };
        await RunAsync(http, grains, model, owner, request, prompts, request.MaxTokensOr(DefaultCompletionTokens, settings), chat: false);

        Prompt Text(string text) => new(TurnRunner.Encode(model, text, addBos: true, settings), text);
        Prompt Ids(int[] ids) => new(TurnRunner.Check(model, ids, settings), model.Tokenizer.Decode(ids));
    }

    private static async Task ChatAsync(HttpContext http, ModelCatalog catalog, SiloSettings settings, IGrainFactory grains)
    {
        string owner = ApiCaller.Owner(http, settings);
        var request = (await ApiJson.ReadAsync<GenerationRequest>(http.Request, http.RequestAborted)).WithSeed();
        request.CheckOpenAiFields(chat: true);
        var model = catalog.Get(request.Model);
        if (request.Messages is not { Length: > 0 } messages)
            throw new ServingRequestException("messages is required: a non-empty array of {role, content}");
        var text = new StringBuilder();
        for (int i = 0; i < messages.Length; i++)
        {
            if (messages[i] is null)
                throw new ServingRequestException($"messages[{i}] must be an object {{role, content}}, got null");
            if (messages[i].Role is not ("system" or "user" or "assistant"))
                throw new ServingRequestException($"messages[{i}].role must be system, user or assistant, got '{messages[i].Role}'");
            if (messages[i].Content is not { } content)
                throw new ServingRequestException($"messages[{i}].content is required: the message's text");
            text.Append(messages[i].Role).Append(": ").Append(content).Append('\n');
        }
        text.Append("assistant:");
        int[] prompt = TurnRunner.Encode(model, text.ToString(), addBos: true, settings);
        await RunAsync(http, grains, model, owner, request, [new Prompt(prompt, "")], request.MaxTokensOr(DefaultChatTokens, settings), chat: true);
    }

    private static async Task RunAsync(HttpContext http, IGrainFactory grains, ServedModel model, string owner, GenerationRequest request, Prompt[] prompts, int maxTokens, bool chat)
    {
        string[] stop = request.StopStrings();
        int n = request.ChoicesPerPrompt(prompts.Length);
        var sampling = request.Sampling();
        ulong seed = request.Seed!.Value;
        bool echo = request.Echo == true;
        int topLogprobs = request.TopLogprobsCount(chat);
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string kind = chat ? "chat.completion" : "text_completion";
        bool stream = request.Stream == true;
        var events = stream ? new TurnRunner.EventWriter(http.Response) : null;

        // Choice k of prompt p has index p·n + k, as OpenAI numbers them.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var choices = Enumerable.Range(0, prompts.Length * n).Select(async index =>
        {
            try
            {
                return await ChoiceAsync(index, prompts[index / n]);
            }
            catch
            {
                await failed.CancelAsync();
                throw;
            }
        }).ToArray();
        var all = Task.WhenAll(choices);
        try
        {
            await all;
        }
        catch when (all.Exception is { } errors)
        {
            // The first real failure, not a sibling's cancellation because of it.
            ExceptionDispatchInfo.Throw(errors.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? errors.InnerExceptions[0]);
        }
        var results = choices.Select(c => c.Result).ToArray();
        int completionTokens = results.Sum(r => r.Tokens.Length);
        int promptTokens = prompts.Sum(p => p.Tokens.Length);
        var usage = new { prompt_tokens = promptTokens, completion_tokens = completionTokens, total_tokens = promptTokens + completionTokens };
        if (events is not null)
        {
            if (request.StreamOptions?.IncludeUsage == true)
                await events.WriteAsync(new { id, @object = chat ? "chat.completion.chunk" : kind, created, model = model.Name, seed, choices = Array.Empty<object>(), usage });
            await events.DoneAsync();
            return;
        }
        var tokenizer = model.Tokenizer;
        object[] bodies = [.. results.Select((r, index) => chat
            ? (object)new { index, message = new { role = "assistant", content = r.Text }, logprobs = LogprobsJson.Chat(tokenizer, r.Tokens, r.Logprobs), finish_reason = r.FinishReason, token_ids = r.Tokens }
            : new { index, text = (echo ? prompts[index / n].Text : "") + r.Text, logprobs = LogprobsJson.Completion(tokenizer, r.Tokens, r.Logprobs, 0), finish_reason = r.FinishReason, token_ids = r.Tokens })];
        await http.Response.WriteAsJsonAsync(new { id, @object = kind, created, model = model.Name, seed, choices = bodies, usage }, ApiJson.Options);

        async Task<TurnRunner.Result> ChoiceAsync(int index, Prompt prompt)
        {
            var session = grains.GetGrain<ISessionGrain>($"{id}-{index}");
            await session.CreateAsync(new SessionSpec(model.Name, owner, sampling with { Seed = GenerationRequest.ChoiceSeed(seed, index) }, Ephemeral: true));
            try
            {
                var input = new TurnInput(prompt.Tokens, maxTokens, request.StopAtEos ?? true, topLogprobs);
                bool first = true;
                int offset = 0;
                TurnRunner.PieceHandler? onPiece = events is null ? null : async (piece, token, finish, logprobs) =>
                {
                    TokenLogprobs[] these = logprobs is null ? [] : [logprobs];
                    string text = (first && echo ? prompt.Text : "") + piece;
                    object chunk = chat
                        ? new { id, @object = kind + ".chunk", created, model = model.Name, seed, choices = new[] { new { index, delta = first ? (object)new { role = "assistant", content = piece } : new { content = piece }, logprobs = LogprobsJson.Chat(model.Tokenizer, [token], these), finish_reason = finish, token_ids = new[] { token } } } }
                        : new { id, @object = kind, created, model = model.Name, seed, choices = new[] { new { index, text, logprobs = LogprobsJson.Completion(model.Tokenizer, [token], these, offset), finish_reason = finish, token_ids = new[] { token } } } };
                    first = false;
                    offset += logprobs is null ? 0 : model.Tokenizer.Decode([token]).Length;
                    await events.WriteAsync(chunk);
                };
                return await TurnRunner.RunAsync(session, input, model.Tokenizer, stop, onPiece, failed.Token);
            }
            finally
            {
                await session.DeleteAsync();
            }
        }
    }

    private static int[] TokenIds(JsonElement array, string field)
    {
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out ids[i]))
                throw new ServingRequestException($"{field}[{i}] must be an integer token id, got {item.GetRawText()}");
            i++;
        }
        return ids;
    }
}
