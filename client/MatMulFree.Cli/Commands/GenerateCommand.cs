using System.ComponentModel;
using System.Diagnostics;
using MatMulFree.Core;
using MatMulFree.Core.Tokenization;
using MatMulFree.Engine;
using MatMulFree.Engine.Sampling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary><c>mmf generate</c>: a prompt in, text streamed out as the CPU engine produces it.</summary>
public sealed class GenerateCommand : AsyncCommand<GenerateCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <DIR>")]
        [Description("A serving folder from `mmf convert` (model.mmfserve) or a Hugging Face model folder (converted in memory).")]
        public string? Model { get; init; }

        [CommandOption("--prompt <TEXT>")]
        [Description("The text to continue (BOS is added).")]
        public string? Prompt { get; init; }

        [CommandOption("--max-tokens <N>")]
        [Description("Tokens to generate at most. Default 128.")]
        [DefaultValue(128)]
        public int MaxTokens { get; init; } = 128;

        [CommandOption("--temperature <T>")]
        [Description("0 for greedy; otherwise the softmax temperature. Default 0.8.")]
        [DefaultValue(0.8f)]
        public float Temperature { get; init; } = 0.8f;

        [CommandOption("--top-k <K>")]
        [Description("Sample among the K most likely tokens; 0 for all. Default 0.")]
        public int TopK { get; init; }

        [CommandOption("--top-p <P>")]
        [Description("Nucleus sampling: the smallest set of tokens with probability ≥ P. Default 1.")]
        [DefaultValue(1f)]
        public float TopP { get; init; } = 1f;

        [CommandOption("--repetition-penalty <R>")]
        [Description("Penalty (> 1) on tokens already seen. Default 1 (none).")]
        [DefaultValue(1f)]
        public float RepetitionPenalty { get; init; } = 1f;

        [CommandOption("--seed <S>")]
        [Description("Random seed: the same seed, prompt and options give the same text. Default 0.")]
        public ulong Seed { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required");
            if (Prompt is null) return ValidationResult.Error("--prompt is required");
            try { Options(eos: 0).Validate(); }
            catch (EngineException e) { return ValidationResult.Error(e.Message); }
            return ValidationResult.Success();
        }

        public SamplingOptions Options(int eos) => new()
        {
            Temperature = Temperature, TopK = TopK, TopP = TopP, RepetitionPenalty = RepetitionPenalty,
            MaxTokens = MaxTokens, Seed = Seed, StopTokens = [eos],
        };
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string dir = settings.Model!;
        if (!Directory.Exists(dir))
            throw new MatMulFreeException($"{dir}: model folder not found");
        ModelConfig config = ModelConfig.Load(Path.Combine(dir, ModelFolder.ConfigFileName));
        ITextTokenizer tokenizer = TokenizerLoader.ForModel(dir, config, notice => AnsiConsole.MarkupLineInterpolated($"[grey]{notice}[/]"));
        string serving = Path.Combine(dir, ServingFile.FileName);
        using EngineModel model = File.Exists(serving) ? ServingFile.Open(serving) : ConvertInMemory(dir);
        using var engine = new InferenceEngine(model);

        var prompt = tokenizer.Encode(settings.Prompt!, addBos: true);
        var options = settings.Options(config.EosTokenId);
        var decoder = tokenizer.CreateStreamingDecoder();
        int produced = 0;
        var clock = Stopwatch.StartNew();
        await Task.Run(() =>
        {
            Console.Write(settings.Prompt);
            foreach (int id in TokenGenerator.Generate(engine, engine.CreateState(), prompt, options))
            {
                cancellationToken.ThrowIfCancellationRequested();
                Console.Write(decoder.Push(id));
                produced++;
            }
            Console.WriteLine(decoder.Flush());
        }, cancellationToken);
        AnsiConsole.MarkupLineInterpolated(
            $"[grey]{prompt.Count} prompt + {produced} generated tokens in {clock.Elapsed.TotalSeconds:F2} s ({engine.Kernel.Name}, {engine.Threads} threads)[/]");
        return 0;
    }

    private static EngineModel ConvertInMemory(string dir)
    {
        using var folder = ModelFolder.Open(dir);
        return ServingConverter.FromCheckpoint(folder.Weights, folder.Config, folder.Directory);
    }
}
