using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary><c>mmf sessions ls</c>: the caller's sessions on a running server.</summary>
public sealed class SessionsLsCommand : AsyncCommand<SessionsSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SessionsSettings settings, CancellationToken cancellationToken)
    {
        using var client = new SessionsClient(settings.Url, settings.ApiKey);
        var list = await client.GetAsync("/v1/sessions", cancellationToken);
        var table = new Table().AddColumns("id", "model", "turns", "tokens", "state bytes", "updated");
        foreach (var s in list["data"]!.AsArray())
            table.AddRow(s!["id"]!.ToString(), s["model"]!.ToString(), s["turns"]!.ToString(), s["tokens"]!.ToString(), s["state_bytes"]!.ToString(), s["updated"]!.ToString());
        AnsiConsole.Write(table);
        return 0;
    }
}
