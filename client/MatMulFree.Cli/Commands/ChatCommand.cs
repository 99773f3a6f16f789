using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf chat</c>: an interactive conversation with a running `mmf serve`, streamed. Each line you
/// type is sent alone; the conversation so far lives in the session's recurrent state on the
/// server, so `--session ID` resumes it later, from any client.
/// </summary>
public sealed class ChatCommand : AsyncCommand<ChatCommand.Settings>
{
    public sealed class Settings : SessionsSettings
    {
        [CommandOption("--session <ID>")]
        [Description("Continue this session instead of starting a new one.")]
        public string? Session { get; init; }

        [CommandOption("--model <NAME>")]
        [Description("Model of a new session. Default: the first the server lists.")]
        public string? Model { get; init; }

        [CommandOption("--max-tokens <N>")]
        [Description("Tokens per answer at most. Default 256.")]
        [DefaultValue(256)]
        public int MaxTokens { get; init; } = 256;

        [CommandOption("--temperature <T>")]
        [Description("Sampling temperature of a new session; 0 is greedy. Default 0.8.")]
        [DefaultValue(0.8f)]
        public float Temperature { get; init; } = 0.8f;

        [CommandOption("--seed <S>")]
        [Description("Seed of a new session: the same seed and messages give the same answers. Default: the server draws one, and it is printed.")]
        public ulong? Seed { get; init; }

        public override ValidationResult Validate()
        {
            if (MaxTokens < 0) return ValidationResult.Error($"--max-tokens must be ≥ 0, got {MaxTokens}");
            if (!(Temperature >= 0)) return ValidationResult.Error($"--temperature must be ≥ 0, got {Temperature}");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var client = new SessionsClient(settings.Url, settings.ApiKey);
        string id;
        if (settings.Session is { } existing)
        {
            var info = await client.GetAsync($"/v1/sessions/{Uri.EscapeDataString(existing)}", cancellationToken);
            id = existing;
            AnsiConsole.MarkupLineInterpolated($"[grey]session {id}: model {info["model"]}, {info["turns"]} turns, {info["tokens"]} tokens so far[/]");
        }
        else
        {
            string model = settings.Model ?? (await client.GetAsync("/v1/models", cancellationToken))["data"]!.AsArray().FirstOrDefault()?["id"]?.ToString()
                ?? throw new Core.MatMulFreeException($"{settings.Url} serves no model");
            var created = await client.PostAsync("/v1/sessions", new { model, temperature = settings.Temperature, seed = settings.Seed }, cancellationToken);
            id = created["id"]!.ToString();
            // A seed the server drew is printed so that the conversation can be repeated with --seed.
            AnsiConsole.MarkupLineInterpolated($"[grey]new session {id} (model {model}, seed {created["sampling"]?["seed"]}); resume it with --session {id}; an empty line or Ctrl+D ends[/]");
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            AnsiConsole.Markup("[bold]> [/]");
            string? line = Console.ReadLine();
            if (string.IsNullOrEmpty(line))
                break;
            await foreach (var chunk in client.StreamAsync($"/v1/sessions/{Uri.EscapeDataString(id)}/messages",
                new { content = line + "\n", max_tokens = settings.MaxTokens, stream = true }, cancellationToken))
                Console.Write(chunk["text"]?.ToString());
            Console.WriteLine();
        }
        return 0;
    }
}
