using System.Text;
using System.Text.Json;
using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace MatMulFree.Silo.Http;

/// <summary>
/// The OpenAI-compatible endpoints: GET /v1/models, POST /v1/completions, POST
/// /v1/chat/completions (<c>stream: true</c> as server-sent events). Each request runs as one turn
/// of an ephemeral session (never persisted), so it batches with every other session.
/// Extensions: <c>top_k</c>, and <c>token_ids</c> in each choice; a completion prompt may be token ids.
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

    private static async Task CompletionAsync(HttpContext http, ModelCatalog catalog, SiloSettings settings, IGrainFactory grains)
    {
        string owner = ApiCaller.Owner(http, settings);
        var request = await ApiJson.ReadAsync<GenerationRequest>(http.Request, http.RequestAborted);
        var model = catalog.Get(request.Model);
        int[] prompt = request.Prompt.ValueKind switch
        {
            JsonValueKind.String => TurnRunner.Encode(model, request.Prompt.GetString()!, addBos: true, settings),
            JsonValueKind.Array => TurnRunner.Check(model, TokenIds(request.Prompt), settings),
            _ => throw new ServingRequestException("prompt is required: a string or an array of token ids"),
        };
        await RunAsync(http, grains, model, owner, request, prompt, request.MaxTokensOr(DefaultCompletionTokens, settings), chat: false);
    }

    private static async Task ChatAsync(HttpContext http, ModelCatalog catalog, SiloSettings settings, IGrainFactory grains)
    {
        string owner = ApiCaller.Owner(http, settings);
        var request = await ApiJson.ReadAsync<GenerationRequest>(http.Request, http.RequestAborted);
        var model = catalog.Get(request.Model);
        if (request.Messages is not { Length: > 0 } messages)
            throw new ServingRequestException("messages is required: a non-empty array of {role, content}");
        var text = new StringBuilder();
        for (int i = 0; i < messages.Length; i++)
        {
            if (messages[i].Role is not ("system" or "user" or "assistant"))
                throw new ServingRequestException($"messages[{i}].role must be system, user or assistant, got '{messages[i].Role}'");
            text.Append(messages[i].Role).Append(": ").Append(messages[i].Content ?? "").Append('\n');
        }
        text.Append("assistant:");
        int[] prompt = TurnRunner.Encode(model, text.ToString(), addBos: true, settings);
        await RunAsync(http, grains, model, owner, request, prompt, request.MaxTokensOr(DefaultChatTokens, settings), chat: true);
    }

    private static async Task RunAsync(HttpContext http, IGrainFactory grains, ServedModel model, string owner, GenerationRequest request, int[] prompt, int maxTokens, bool chat)
    {
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        var session = grains.GetGrain<ISessionGrain>(id);
        await session.CreateAsync(new SessionSpec(model.Name, owner, request.Sampling(), Ephemeral: true));
        try
        {
            var input = new TurnInput(prompt, maxTokens, request.StopAtEos ?? true);
            long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            if (request.Stream == true)
            {
                await TurnRunner.StreamAsync(http.Response, session, input, model.Tokenizer, (piece, token, finish) => chat
                    ? new { id, @object = "chat.completion.chunk", created, model = model.Name, choices = new[] { new { index = 0, delta = new { content = piece }, finish_reason = finish, token_ids = new[] { token } } } }
                    : new { id, @object = "text_completion", created, model = model.Name, choices = new[] { new { index = 0, text = piece, finish_reason = finish, token_ids = new[] { token } } } },
                    http.RequestAborted);
                return;
            }
            var result = await TurnRunner.CollectAsync(session, input, model.Tokenizer, http.RequestAborted);
            var usage = new { prompt_tokens = prompt.Length, completion_tokens = result.Tokens.Length, total_tokens = prompt.Length + result.Tokens.Length };
            object body = chat
                ? new { id, @object = "chat.completion", created, model = model.Name, choices = new[] { new { index = 0, message = new { role = "assistant", content = result.Text }, finish_reason = result.FinishReason, token_ids = result.Tokens } }, usage }
                : new { id, @object = "text_completion", created, model = model.Name, choices = new[] { new { index = 0, text = result.Text, finish_reason = result.FinishReason, token_ids = result.Tokens } }, usage };
            await http.Response.WriteAsJsonAsync(body, ApiJson.Options);
        }
        finally
        {
            await session.DeleteAsync();
        }
    }

    private static int[] TokenIds(JsonElement array)
    {
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out ids[i]))
                throw new ServingRequestException($"prompt[{i}] must be an integer token id, got {item.GetRawText()}");
            i++;
        }
        return ids;
    }
}
