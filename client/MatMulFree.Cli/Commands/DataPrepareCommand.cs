using System.ComponentModel;
using MatMulFree.Core;
using MatMulFree.Core.Tokenization;
using MatMulFree.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf data prepare</c>: text files, folders or JSONL into token shards (uint16 where the
/// vocabulary allows) plus <c>dataset.json</c> in a store, for <c>mmf train --data</c>.
/// </summary>
public sealed class DataPrepareCommand : AsyncCommand<DataPrepareCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandOption("--input <PATH>")]
        [Description("A text file, a folder (every file below it) or a .jsonl file of {\"text\": ...}; repeat for several.")]
        public string[] Inputs { get; init; } = [];

        [CommandOption("--tokenizer <TOKENIZER>")]
        [Description("byte (byte-level, for models trained from scratch such as the tiny preset) or a model folder whose tokenizer to use. Default: byte.")]
        public string Tokenizer { get; init; } = "byte";

        [CommandOption("--format <FORMAT>")]
        [Description("auto (.jsonl by extension, else plain text), text, jsonl, or brown (the tagged Brown corpus: tags stripped). Default: auto.")]
        public string Format { get; init; } = "auto";

        [CommandOption("--out <URI>")]
        [Description("Where the data set goes: a store URI or folder (file://, http(s)://.../CONTAINER/path), or a path inside --store such as data/brown.")]
        public string? Out { get; init; }

        [CommandOption("--shard-tokens <N>")]
        [Description("Tokens per shard file. Default: 67108864 (128 MB of uint16).")]
        public long ShardTokens { get; init; } = 64L << 20;

        public override ValidationResult Validate()
        {
            if (Inputs.Length == 0) return ValidationResult.Error("--input is required (a file, folder or .jsonl)");
            if (string.IsNullOrWhiteSpace(Out)) return ValidationResult.Error("--out is required (e.g. data/brown, or a store URI)");
            if (ShardTokens < 1) return ValidationResult.Error($"--shard-tokens must be at least 1, got {ShardTokens}");
            if (ParseFormat(Format) is null) return ValidationResult.Error($"--format must be auto, text, jsonl or brown, got '{Format}'");
            return ValidationResult.Success();
        }
    }

    private static TextFormat? ParseFormat(string text) => text.ToLowerInvariant() switch
    {
        "auto" => TextFormat.Auto,
        "text" => TextFormat.Text,
        "jsonl" => TextFormat.JsonLines,
        "brown" => TextFormat.BrownTagged,
        _ => null,
    };

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        ITextTokenizer tokenizer = settings.Tokenizer.Equals("byte", StringComparison.OrdinalIgnoreCase)
            ? new ByteTokenizer(ModelConfig.Preset("tiny").VocabSize, ModelConfig.Preset("tiny").BosTokenId, ModelConfig.Preset("tiny").EosTokenId)
            : LoadTokenizer(settings.Tokenizer);
        var location = settings.Resolve(settings.Out);
        var documents = TextSources.Documents(settings.Inputs, ParseFormat(settings.Format)!.Value,
            skipped => AnsiConsole.MarkupLineInterpolated($"[grey]{skipped}[/]"));
        var writer = new DatasetWriter(location.Open(), location.Path, tokenizer, settings.ShardTokens);
        DatasetManifest manifest = null!;
        await AnsiConsole.Status().StartAsync("tokenizing...", async status =>
        {
            var progress = new Progress<long>(tokens => status.Status($"tokenizing... {tokens:N0} tokens"));
            manifest = await writer.WriteAsync(documents, progress, cancellationToken);
        });
        AnsiConsole.MarkupLineInterpolated(
            $"prepared [bold]{manifest.Tokens:N0}[/] tokens from {manifest.Documents:N0} documents ({manifest.Tokenizer}, {manifest.TokenBytes * 8}-bit) in {manifest.Shards.Count} shard(s) -> {location}");
        return 0;
    }

    private static ITextTokenizer LoadTokenizer(string modelDir)
    {
        string configPath = Path.Combine(modelDir, "config.json");
        var config = ModelConfig.Load(configPath);
        return TokenizerLoader.ForModel(modelDir, config, notice => AnsiConsole.MarkupLineInterpolated($"[yellow]{notice}[/]"));
    }
}
