using System.Security.Cryptography;
using System.Text;
using MatMulFree.Grains.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace MatMulFree.Silo.Http;

/// <summary>
/// Who is calling: with API keys configured, the bearer key must be one of them and its owner id
/// is a keyed hash of it (<see cref="SessionOwners"/>; keys themselves are never stored in
/// sessions); without keys, "anonymous".
/// </summary>
public static class ApiCaller
{
    public const string Anonymous = "anonymous";

    public static string Owner(HttpContext context, SiloSettings settings)
    {
        if (settings.ApiKeys.Count == 0)
            return Anonymous;
        string header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            throw new UnauthorizedException("missing API key: send the header 'Authorization: Bearer KEY'");
        string key = header["Bearer ".Length..].Trim();
        if (!settings.ApiKeys.Any(k => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(k), Encoding.UTF8.GetBytes(key))))
            throw new UnauthorizedException("the API key is not valid");
        return context.RequestServices.GetRequiredService<SessionOwners>().Of(key);
    }

    /// <summary>The session, if it exists and belongs to <paramref name="owner"/>.</summary>
    public static async Task<SessionInfo> OwnedSessionAsync(ISessionGrain session, string id, string owner)
    {
        var info = await session.GetAsync() ?? throw new SessionNotFoundException($"session {id} does not exist");
        if (info.Owner != owner)
            throw new ForbiddenException($"session {id} belongs to another API key");
        return info;
    }
}
