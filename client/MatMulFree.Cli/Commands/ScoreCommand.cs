using System.ComponentModel;
using System.Text.Json;
using MatMulFree.Core;
using MatMulFree.Engine;
using MatMulFree.Model;
using MatMulFree.Node.Protocol;
using MatMulFree.Serving;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf score</c>: mean next-token negative log-likelihood and perplexity of a model on data,
/// over all B·(T−1) predicted tokens — the loss of the golden files.
/// </summary>
public sealed class ScoreCommand : AsyncCommand<ScoreCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <DIR>")]
        [Description("Hugging Face model folder: config.json and model.safetensors (or shards).")]
        public string? Model { get; init; }

        [CommandOption("--input <FILE>")]
        [Description("A .safetensors file with an int64/int32 tensor input_ids [[B, T]], or UTF-8 text.")]
        public string? Input { get; init; }

        [CommandOption("--engine <ENGINE>")]
        [Description("torch (the TorchSharp model) or cpu (the packed ternary engine). Default: torch.")]
        public string? EngineFlag { get; init; }

        /// <summary>What computed the loss: the --engine, or "node" with --node.</summary>
        public string Engine => Node is not null ? "node" : EngineFlag ?? "torch";

        [CommandOption("--node <URL>")]
        [Description($"Score on a running `mmf node` (its device and model; --model gives the tokenizer and vocabulary). Its token: ${NodeCommand.TokenVariable}.")]
        public string? Node { get; init; }

        [CommandOption("--json")]
        [Description("Print one JSON object: loss, perplexity, tokens, engine.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required");
            if (string.IsNullOrWhiteSpace(Input)) return ValidationResult.Error("--input is required");
            if (EngineFlag is not (null or "torch" or "cpu")) return ValidationResult.Error($"--engine must be torch or cpu, got \"{EngineFlag}\"");
            if (Node is not null && EngineFlag is not null) return ValidationResult.Error("--node and --engine exclude each other: the node's device computes the loss");
            if (Node is not null && !(Uri.TryCreate(Node, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
                return ValidationResult.Error($"--node must be an http:// URL such as http://127.0.0.1:5701, got '{Node}'");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using ModelFolder folder = ModelFolder.Open(settings.Model!, notice =>
        {
            if (!settings.Json) AnsiConsole.MarkupLineInterpolated($"[grey]{notice}[/]");
        });
        long[,] ids = TokenInputReader.Read(settings.Input!, folder.Tokenizer, folder.Config.VocabSize);

        ScoreResult result = settings.Node is { } node
            ? await ScoreOnNodeAsync(new Uri(node), folder, ids, cancellationToken)
            : await Task.Run(() => settings.Engine == "cpu"
                ? EngineScorer.Score(folder, ids)
                : TorchScorer.Score(folder, ids), cancellationToken);
        if (!double.IsFinite(result.Loss))
            throw new MatMulFreeException(NonFiniteLoss(folder, result, settings.Engine));

        if (settings.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                loss = result.Loss,
                perplexity = result.Perplexity,
                tokens = result.Tokens,
                engine = settings.Engine,
            }));
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated(
                $"loss [bold]{result.Loss:F6}[/]  perplexity [bold]{result.Perplexity:F3}[/]  over {result.Tokens} predicted tokens ({settings.Engine})");
        }
        return 0;
    }

    private static async Task<ScoreResult> ScoreOnNodeAsync(Uri node, ModelFolder folder, long[,] ids, CancellationToken cancellationToken)
    {
        string? token = Environment.GetEnvironmentVariable(NodeCommand.TokenVariable) is { Length: > 0 } t ? t : null;
        using var device = await RemoteDevice.ConnectAsync(node, new RemoteDeviceOptions(token), cancellationToken);
        var model = device.Model ?? throw new MatMulFreeException($"--node {node}: the node has no model loaded");
        if (model.VocabSize != folder.Config.VocabSize)
            throw new MatMulFreeException($"--node {node}: serves model {model.Identity} of vocabulary {model.VocabSize}, --model {folder.Directory} has {folder.Config.VocabSize}");
        // The batch blocks its thread on the wire, one step at a time: off the caller's.
        return await Task.Run(() => DeviceScorer.Score(device, ids), cancellationToken);
    }

    // Not a score at all: say so and why, rather than print "loss NaN" and exit 0.
    private static string NonFiniteLoss(ModelFolder folder, ScoreResult result, string engine)
    {
        string loss = double.IsNaN(result.Loss) ? "NaN" : "infinite";
        string cause = folder.FindNonFiniteWeight() is var (tensor, index)
            ? $"tensor '{tensor}' holds NaN or infinite values (the first at element {index})"
            : "every weight is finite, so the activations overflowed";
        return $"{folder.Directory}: the loss is {loss} over {result.Tokens} predicted tokens ({engine}): {cause}";
    }
}
