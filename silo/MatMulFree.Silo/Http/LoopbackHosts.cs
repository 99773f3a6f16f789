namespace MatMulFree.Silo.Http;

/// <summary>
/// The Host names a server bound to loopback alone answers to. A web page whose own name an
/// attacker points at 127.0.0.1 (DNS rebinding) reaches such a server from the user's browser, but
/// with its own name in the Host header: ASP.NET Core's host filtering answers it with 400.
/// </summary>
public static class LoopbackHosts
{
    public static IReadOnlyList<string> Names { get; } = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>Whether every URL of <paramref name="urls"/> (';'-separated, as Kestrel takes them) listens on loopback only; wildcards (*, +, 0.0.0.0) do not.</summary>
    public static bool OnlyLoopback(string urls) =>
        urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .All(url => Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.IsLoopback);
}
