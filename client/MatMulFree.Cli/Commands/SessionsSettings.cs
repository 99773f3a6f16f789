using System.ComponentModel;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>Where the server is and who the caller is: shared by `mmf chat` and `mmf sessions`.</summary>
public class SessionsSettings : CommandSettings
{
    [CommandOption("--url <URL>")]
    [Description("The `mmf serve` to talk to. Default http://127.0.0.1:8080 (or $MMF_URL).")]
    public string Url { get; init; } = Environment.GetEnvironmentVariable("MMF_URL") ?? "http://127.0.0.1:8080";

    [CommandOption("--api-key <KEY>")]
    [Description("Bearer key, when the server requires one (or $MMF_API_KEY).")]
    public string? ApiKey { get; init; } = Environment.GetEnvironmentVariable("MMF_API_KEY");
}
