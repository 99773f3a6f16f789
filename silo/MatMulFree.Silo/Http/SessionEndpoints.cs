using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace MatMulFree.Silo.Http;

/// <summary>
/// The sessions API: POST /v1/sessions (create), POST /v1/sessions/{id}/messages (continue: only
/// the new message is sent, the conversation is already in the session's state), GET
/// /v1/sessions/{id}, DELETE /v1/sessions/{id}, GET /v1/sessions (the caller's). A session is
/// visible only to the API key that created it.
/// </summary>
public static class SessionEndpoints
{
    private const int DefaultMessageTokens = 256;

    public static void MapSessionEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/sessions", CreateAsync);
        app.MapGet("/v1/sessions", async (HttpContext http, SiloSettings settings, IGrainFactory grains) =>
        {
            string owner = ApiCaller.Owner(http, settings);
            var ids = await grains.GetGrain<ISessionDirectoryGrain>(owner).ListAsync();
            var infos = await Task.WhenAll(ids.Select(id => grains.GetGrain<ISessionGrain>(id).GetAsync()));
            return Results.Json(new { @object = "list", data = infos.Where(i => i is not null) }, ApiJson.Options);
        });
        app.MapGet("/v1/sessions/{id}", async (string id, HttpContext http, SiloSettings settings, IGrainFactory grains) =>
            Results.Json(await ApiCaller.OwnedSessionAsync(grains.GetGrain<ISessionGrain>(id), id, ApiCaller.Owner(http, settings)), ApiJson.Options));
        app.MapDelete("/v1/sessions/{id}", async (string id, HttpContext http, SiloSettings settings, IGrainFactory grains) =>
        {
            var session = grains.GetGrain<ISessionGrain>(id);
            await ApiCaller.OwnedSessionAsync(session, id, ApiCaller.Owner(http, settings));
            await session.DeleteAsync();
            return Results.Json(new { id, deleted = true }, ApiJson.Options);
        });
        app.MapPost("/v1/sessions/{id}/messages", MessageAsync);
    }

    private static async Task CreateAsync(HttpContext http, ModelCatalog catalog, SiloSettings settings, IGrainFactory grains)
    {
        string owner = ApiCaller.Owner(http, settings);
        var request = (await ApiJson.ReadAsync<GenerationRequest>(http.Request, http.RequestAborted)).WithSeed();
        request.CheckSessionFields();
        var model = catalog.Get(request.Model);
        string id = "sess-" + Guid.NewGuid().ToString("N");
        var info = await grains.GetGrain<ISessionGrain>(id).CreateAsync(new SessionSpec(model.Name, owner, request.Sampling()));
        http.Response.StatusCode = StatusCodes.Status201Created;
        http.Response.Headers.Location = $"/v1/sessions/{id}";
        await http.Response.WriteAsJsonAsync(info, ApiJson.Options);
    }

    private static async Task MessageAsync(string id, HttpContext http, ModelCatalog catalog, SiloSettings settings, IGrainFactory grains)
    {
        string owner = ApiCaller.Owner(http, settings);
        var request = await ApiJson.ReadAsync<GenerationRequest>(http.Request, http.RequestAborted);
        request.CheckSessionMessageFields();
        var session = grains.GetGrain<ISessionGrain>(id);
        var info = await ApiCaller.OwnedSessionAsync(session, id, owner);
        var model = catalog.Get(info.Model);
        int[] tokens = (request.Content, request.Tokens) switch
        {
            ({ } text, null) => TurnRunner.Encode(model, text, addBos: info.Tokens == 0, settings),
            (null, { } ids) => TurnRunner.Check(model, ids, settings),
            (null, null) => throw new ServingRequestException("content (text) or tokens (ids) is required"),
            _ => throw new ServingRequestException("send content or tokens, not both"),
        };
        var input = new TurnInput(tokens, request.MaxTokensOr(DefaultMessageTokens, settings), request.StopAtEos ?? true);
        if (request.Stream == true)
        {
            await TurnRunner.StreamAsync(http.Response, session, input, model.Tokenizer,
                (piece, token, finish) => new { id, @object = "session.message.chunk", text = piece, token, finish_reason = finish }, http.RequestAborted);
            return;
        }
        var result = await TurnRunner.CollectAsync(session, input, model.Tokenizer, http.RequestAborted);
        await http.Response.WriteAsJsonAsync(new
        {
            id, @object = "session.message", text = result.Text, tokens = result.Tokens, finish_reason = result.FinishReason,
            usage = new { prompt_tokens = tokens.Length, completion_tokens = result.Tokens.Length },
        }, ApiJson.Options);
    }
}
