using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary><c>mmf sessions rm ID…</c>: deletes sessions (their state in storage too).</summary>
public sealed class SessionsRmCommand : AsyncCommand<SessionsRmCommand.Settings>
{
    public sealed class Settings : SessionsSettings
    {
        [CommandArgument(0, "<ID>")]
        [Description("Session ids to delete.")]
        public string[] Ids { get; init; } = [];

        public override ValidationResult Validate() =>
            Ids.Length == 0 ? ValidationResult.Error("give at least one session id") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var client = new SessionsClient(settings.Url, settings.ApiKey);
        foreach (string id in settings.Ids)
        {
            await client.DeleteAsync($"/v1/sessions/{Uri.EscapeDataString(id)}", cancellationToken);
            AnsiConsole.MarkupLineInterpolated($"deleted {id}");
        }
        return 0;
    }
}
