using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using MatMulFree.Core;
using MatMulFree.Engine;
using MatMulFree.Engine.Benchmarks;
using MatMulFree.Model;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf bench decode</c>: the CPU engine's decode speed on random weights of a named shape
/// (no checkpoint), against this machine's measured read bandwidth and against TorchSharp fp32
/// on the same shape, in one run so that the ratios share the machine's load.
/// </summary>
public sealed class BenchDecodeCommand : AsyncCommand<BenchDecodeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--shape <NAME>")]
        [Description("Model shape preset: tiny, 370m, 1.3b, 2.7b. Default 370m.")]
        [DefaultValue("370m")]
        public string Shape { get; init; } = "370m";

        [CommandOption("--seconds <S>")]
        [Description("Minimum measuring time per batch size. Default 3.")]
        [DefaultValue(3.0)]
        public double Seconds { get; init; } = 3.0;

        [CommandOption("--threads <N>")]
        [Description("Engine threads; 0 for min(2, cores). Default 0.")]
        public int Threads { get; init; }

        [CommandOption("--torch-steps <N>")]
        [Description("TorchSharp fp32 decode steps at batch 1; 0 skips the comparison. Default 20.")]
        [DefaultValue(20)]
        public int TorchSteps { get; init; } = 20;

        [CommandOption("--json")]
        [Description("Print one JSON object with every figure.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (!ModelConfig.PresetNames.Contains(Shape.ToLowerInvariant()))
                return ValidationResult.Error($"--shape must be one of {string.Join(", ", ModelConfig.PresetNames)}, got \"{Shape}\"");
            if (!(Seconds > 0)) return ValidationResult.Error($"--seconds must be > 0, got {Seconds}");
            if (Threads < 0) return ValidationResult.Error($"--threads must be ≥ 0, got {Threads}");
            if (TorchSteps < 0) return ValidationResult.Error($"--torch-steps must be ≥ 0, got {TorchSteps}");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var config = ModelConfig.Preset(settings.Shape);
        var result = await Task.Run(() => Measure(config, settings), cancellationToken);
        if (settings.Json)
            Console.WriteLine(JsonSerializer.Serialize(result));
        else
            foreach (var (key, value) in result)
                AnsiConsole.MarkupLineInterpolated($"{key,-32} [bold]{Format(value)}[/]");
        return 0;
    }

    private static Dictionary<string, object> Measure(ModelConfig config, Settings settings)
    {
        long before = Process.GetCurrentProcess().WorkingSet64;
        using var model = ServingConverter.Random(config, seed: 1);
        using var engine = new InferenceEngine(model, threads: settings.Threads, maxRows: 64);
        long resident = Process.GetCurrentProcess().WorkingSet64 - before;

        double bandwidth = MemoryBandwidth.Measure(engine.Threads);
        double b1 = DecodeBenchmark.TokensPerSecond(engine, 1, 16, settings.Seconds);
        double b8 = DecodeBenchmark.TokensPerSecond(engine, 8, 4, settings.Seconds);
        double b64 = DecodeBenchmark.TokensPerSecond(engine, 64, 2, settings.Seconds);
        // A token at batch 1 reads every packed ternary matrix once, plus one embedding row.
        long bytesPerToken = model.TernaryBytes + (long)config.HiddenSize * (model.EmbeddingKind == ServingTensorKind.F16 ? 2 : 4);
        double ceiling = bandwidth / bytesPerToken;
        long fp32Bytes = TorchDecodeBenchmark.Fp32ParameterBytes(config);
        double torch = settings.TorchSteps > 0 ? TorchDecodeBenchmark.TokensPerSecond(config, 1, settings.TorchSteps, seed: 1) : double.NaN;

        return new Dictionary<string, object>
        {
            ["shape"] = settings.Shape,
            ["kernel"] = engine.Kernel.Name,
            ["threads"] = engine.Threads,
            ["tokens_per_s_b1"] = b1,
            ["tokens_per_s_b8"] = b8,
            ["tokens_per_s_b64"] = b64,
            ["read_bandwidth_gb_s"] = bandwidth / 1e9,
            ["weight_bytes_per_token"] = bytesPerToken,
            ["bandwidth_ceiling_tokens_per_s"] = ceiling,
            ["bandwidth_fraction_b1"] = b1 / ceiling,
            ["engine_weight_bytes"] = model.WeightBytes,
            ["engine_resident_bytes"] = resident,
            ["fp32_parameter_bytes"] = fp32Bytes,
            ["memory_ratio_vs_fp32"] = (double)fp32Bytes / model.WeightBytes,
            ["torch_fp32_tokens_per_s_b1"] = torch,
            ["speedup_vs_torch_fp32"] = b1 / torch,
            ["state_bytes_per_session"] = (long)config.NumHiddenLayers * config.MixerWidth * sizeof(float),
            ["load_average_1m"] = LoadAverage(),
        };
    }

    private static double LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture); }
        catch (IOException) { return double.NaN; }
    }

    private static string Format(object value) => value switch
    {
        double d => d.ToString(Math.Abs(d) >= 100 ? "F1" : "F3", System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
