using System.ComponentModel;
using MatMulFree.Core;
using MatMulFree.Core.Tokenization;
using MatMulFree.Engine;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf convert</c>: latent weights → serving folder (model.mmfserve + config + tokenizer),
/// ternarized exactly once, for `mmf generate` and the CPU serving nodes.
/// </summary>
public sealed class ConvertCommand : AsyncCommand<ConvertCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <DIR>")]
        [Description("Hugging Face model folder: config.json and model.safetensors (or shards).")]
        public string? Model { get; init; }

        [CommandOption("--out <DIR>")]
        [Description("Serving folder to write: model.mmfserve, config.json and the tokenizer files.")]
        public string? Out { get; init; }

        [CommandOption("--embeddings <KIND>")]
        [Description("i8 (default: int8 rows with a scale per row, a quarter of fp32; moves the golden loss by at most 5.2e-4), f16 (half) or f32 (exact).")]
        [DefaultValue("i8")]
        public string Embeddings { get; init; } = "i8";

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required");
            if (string.IsNullOrWhiteSpace(Out)) return ValidationResult.Error("--out is required");
            if (Embeddings is not ("i8" or "f16" or "f32")) return ValidationResult.Error($"--embeddings must be i8, f16 or f32, got \"{Embeddings}\"");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using ModelFolder folder = ModelFolder.Open(settings.Model!, notice => AnsiConsole.MarkupLineInterpolated($"[grey]{notice}[/]"));
        Directory.CreateDirectory(settings.Out!);
        string path = Path.Combine(settings.Out!, ServingFile.FileName);
        var kind = settings.Embeddings switch
        {
            "f32" => ServingTensorKind.F32,
            "f16" => ServingTensorKind.F16,
            _ => ServingTensorKind.I8Rows,
        };
        long packed = 0, total = 0;
        string identity = "";
        await Task.Run(() =>
        {
            using var model = ServingConverter.FromCheckpoint(folder.Weights, folder.Config, folder.Directory, kind);
            ServingFile.Write(model, path);
            (packed, total, identity) = (model.TernaryBytes, model.WeightBytes, model.IdentityHex);
        }, cancellationToken);
        File.WriteAllText(Path.Combine(settings.Out!, ModelFolder.ConfigFileName), folder.Config.ToJson());
        foreach (string name in new[] { TokenizerLoader.SentencePieceFile, TokenizerLoader.HuggingFaceFile, "tokenizer_config.json", "special_tokens_map.json" })
        {
            string source = Path.Combine(folder.Directory, name);
            if (File.Exists(source))
                File.Copy(source, Path.Combine(settings.Out!, name), overwrite: true);
        }
        long fp32 = ParameterNames.All(folder.Config).Sum(p => p.Shape.Aggregate(4L, (a, b) => a * b));
        AnsiConsole.MarkupLineInterpolated(
            $"wrote [bold]{path}[/]: {total / 1e6:F1} MB ({packed / 1e6:F1} MB packed ternary), {(double)fp32 / total:F1}x smaller than fp32 ({fp32 / 1e6:F1} MB); model {identity}");
        return 0;
    }
}
