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
        [Description("Measuring time per batch size (all rounds together). Default 3.")]
        [DefaultValue(3.0)]
        public double Seconds { get; init; } = 3.0;

        [CommandOption("--rounds <N>")]
        [Description("Rounds per batch size, sharing --seconds; the best round is reported (all are in the JSON). Default 3.")]
        [DefaultValue(3)]
        public int Rounds { get; init; } = 3;

        [CommandOption("--threads <N>")]
        [Description("Engine threads; 0 for min(2, cores). Default 0.")]
        public int Threads { get; init; }

        [CommandOption("--torch-steps <N>")]
        [Description("TorchSharp fp32 decode steps at batch 1; 0 skips the comparison. Default 20.")]
        [DefaultValue(20)]
        public int TorchSteps { get; init; } = 20;

        [CommandOption("--profile")]
        [Description("Also run a one-thread engine and print each stage's CPU time per token at batch 1 and 64.")]
        public bool Profile { get; init; }

        [CommandOption("--json")]
        [Description("Print one JSON object with every figure.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (!ModelConfig.PresetNames.Contains(Shape.ToLowerInvariant()))
                return ValidationResult.Error($"--shape must be one of {string.Join(", ", ModelConfig.PresetNames)}, got \"{Shape}\"");
            if (!(Seconds > 0)) return ValidationResult.Error($"--seconds must be > 0, got {Seconds}");
            if (Threads < 0) return ValidationResult.Error($"--threads must be ≥ 0, got {Threads}");
            if (Rounds < 1) return ValidationResult.Error($"--rounds must be ≥ 1, got {Rounds}");
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

    private static Dictionary<string, object?> Measure(ModelConfig config, Settings settings)
    {
        long before = SettledWorkingSet();
        // Int8 row-scaled embeddings: their effect on the golden loss is ≤ 5.2e-4 (docs/benchmarks.md).
        using var model = ServingConverter.Random(config, seed: 1, ServingTensorKind.I8Rows);
        using var engine = new InferenceEngine(model, threads: settings.Threads, maxRows: 64);
        // After a compacting collection that returns freed memory: making random weights allocates
        // fp32 latent matrices that are garbage by now.
        long resident = SettledWorkingSet() - before;

        double loadBefore = LoadAverage();
        double bandwidth = MemoryBandwidth.Measure(engine.Threads);
        var b1Rounds = DecodeBenchmark.MeasureBest(engine, 1, 16, settings.Seconds, settings.Rounds);
        var b8Rounds = DecodeBenchmark.MeasureBest(engine, 8, 4, settings.Seconds, settings.Rounds);
        var b64Rounds = DecodeBenchmark.MeasureBest(engine, 64, 2, settings.Seconds, settings.Rounds);
        var (b1, b8, b64) = (b1Rounds.Best, b8Rounds.Best, b64Rounds.Best);
        long lutIndexBytes = model.LutIndexBytes;
        // The same batch on the vpmaddubsw kernel alone, to compare the lookup tables against.
        DecodeMeasurement b64Maddubs;
        using (var plain = new InferenceEngine(model, threads: settings.Threads, maxRows: 64, lookupTables: false))
            b64Maddubs = DecodeBenchmark.MeasureBest(plain, 64, 2, settings.Seconds, settings.Rounds).Best;
        double loadAfter = LoadAverage();
        // A token at batch 1 reads every packed ternary matrix once, plus one embedding row.
        long bytesPerToken = model.TernaryBytes + model.EmbeddingRowBytes;
        double ceiling = bandwidth / bytesPerToken;
        long fp32Bytes = TorchDecodeBenchmark.Fp32ParameterBytes(config);
        // Skipped (--torch-steps 0): the two TorchSharp figures are null, not a NaN that JSON cannot hold.
        double? torch = settings.TorchSteps > 0 ? TorchDecodeBenchmark.TokensPerSecond(config, 1, settings.TorchSteps, seed: 1) : null;

        var result = new Dictionary<string, object?>
        {
            ["shape"] = settings.Shape,
            ["kernel"] = engine.Kernel.Name,
            ["threads"] = engine.Threads,
            ["tokens_per_s_b1"] = b1.TokensPerSecond,
            ["tokens_per_s_b8"] = b8.TokensPerSecond,
            ["tokens_per_s_b64"] = b64.TokensPerSecond,
            // Every round; the figures above are the best round's.
            ["rounds"] = settings.Rounds,
            ["tokens_per_s_b1_rounds"] = b1Rounds.TokensPerSecond,
            ["tokens_per_s_b8_rounds"] = b8Rounds.TokensPerSecond,
            ["tokens_per_s_b64_rounds"] = b64Rounds.TokensPerSecond,
            ["cpu_ms_per_token_b1"] = b1.CpuMsPerToken,
            ["cpu_ms_per_token_b8"] = b8.CpuMsPerToken,
            ["cpu_ms_per_token_b64"] = b64.CpuMsPerToken,
            // What the engine makes with its threads' cores to itself: tokens per CPU-second × threads.
            ["cpu_bound_tokens_per_s_b1"] = b1.CpuBoundTokensPerSecond,
            ["cpu_bound_tokens_per_s_b8"] = b8.CpuBoundTokensPerSecond,
            ["cpu_bound_tokens_per_s_b64"] = b64.CpuBoundTokensPerSecond,
            ["lookup_tables_b64"] = engine.LookupTables,
            ["tokens_per_s_b64_maddubs"] = b64Maddubs.TokensPerSecond,
            ["cpu_ms_per_token_b64_maddubs"] = b64Maddubs.CpuMsPerToken,
            ["cpu_bound_tokens_per_s_b64_maddubs"] = b64Maddubs.CpuBoundTokensPerSecond,
            ["read_bandwidth_gb_s"] = bandwidth / 1e9,
            ["weight_bytes_per_token"] = bytesPerToken,
            ["bandwidth_ceiling_tokens_per_s"] = ceiling,
            ["bandwidth_fraction_b1"] = b1.TokensPerSecond / ceiling,
            ["engine_weight_bytes"] = model.WeightBytes,
            ["engine_resident_bytes"] = resident,
            // The process's resident growth for model and engine (before any batched pass builds
            // the lookup-table index) against the fp32 parameters alone.
            ["resident_ratio_vs_fp32"] = (double)fp32Bytes / resident,
            // Built in memory by the first batched pass (2.67 bits per weight), not in the serving file.
            ["lut_index_bytes"] = lutIndexBytes,
            ["memory_ratio_vs_fp32_with_lut_index"] = (double)fp32Bytes / (model.WeightBytes + lutIndexBytes),
            ["fp32_parameter_bytes"] = fp32Bytes,
            ["memory_ratio_vs_fp32"] = (double)fp32Bytes / model.WeightBytes,
            ["embedding_kind"] = model.EmbeddingKind.ToString(),
            ["memory_ratio_vs_fp32_with_f16_embeddings"] = (double)fp32Bytes /
                (model.WeightBytes - (long)config.VocabSize * model.EmbeddingRowBytes + 2L * config.VocabSize * config.HiddenSize),
            ["torch_fp32_tokens_per_s_b1"] = torch,
            ["speedup_vs_torch_fp32"] = b1.TokensPerSecond / torch,
            ["state_bytes_per_session"] = (long)config.NumHiddenLayers * config.MixerWidth * sizeof(float),
            ["load_average_1m_before"] = loadBefore,
            ["load_average_1m_after"] = loadAfter,
            ["load_average_1m"] = loadAfter,
        };
        if (settings.Profile)
            AddProfile(model, settings, result);
        return result;
    }

    /// <summary>Per-stage CPU time of a one-thread engine (the caller then does all the work, so its thread clock sees every stage).</summary>
    private static void AddProfile(EngineModel model, Settings settings, Dictionary<string, object?> result)
    {
        using var single = new InferenceEngine(model, threads: 1, maxRows: 64);
        using var singlePlain = new InferenceEngine(model, threads: 1, maxRows: 64, lookupTables: false);
        foreach (var (batch, engine, name) in new[] { (1, single, "b1"), (64, single, "b64"), (64, singlePlain, "b64_maddubs") })
        {
            var profile = new StageProfile();
            var m = DecodeBenchmark.Measure(engine, batch, batch == 1 ? 8 : 2, settings.Seconds / 2, profile);
            foreach (var stage in Enum.GetValues<EngineStage>())
                result[$"profile_{name}_{stage}_cpu_ms_per_token"] = profile[stage] * 1e3 / m.Tokens;
            result[$"profile_{name}_tokens_per_cpu_s_one_thread"] = m.TokensPerCpuSecond;
        }
    }

    private static long SettledWorkingSet()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    private static double LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture); }
        catch (IOException) { return double.NaN; }
    }

    private static string Format(object? value) => value switch
    {
        double d => d.ToString(Math.Abs(d) >= 100 ? "F1" : "F3", System.Globalization.CultureInfo.InvariantCulture),
        IEnumerable<double> list => string.Join(" / ", list.Select(x => Format(x))),
        null => "skipped",
        _ => value.ToString() ?? "",
    };
}
