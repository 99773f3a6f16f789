using MatMulFree.Core;
using System.ComponentModel;
using System.Text.Json;
using MatMulFree.Engine;
using MatMulFree.Engine.Benchmarks;
using MatMulFree.Grains.Serving;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Silo;
using MatMulFree.Silo.Benchmarks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Serialization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf bench serve</c>: the serving layer against the engine it serves, in one run. First the
/// engine alone, N sessions stepping together (its batched throughput); then an embedded silo with
/// N concurrent sessions of K turns × T tokens through the session grains (or the HTTP API on
/// loopback): aggregate tokens/s and its ratio to the engine, time to first token and per-token
/// latency (p50/p99), errors, optionally every session checked against its run alone, and the
/// memory an idle session takes in the silo and in storage.
/// </summary>
public sealed class BenchServeCommand : AsyncCommand<BenchServeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <SOURCE>")]
        [Description("Model folder, store URI, or random:PRESET (random weights of a shape). Default random:370m.")]
        [DefaultValue("random:370m")]
        public string Model { get; init; } = "random:370m";

        [CommandOption("--sessions <N>")]
        [Description("Concurrent sessions. Default 64.")]
        [DefaultValue(64)]
        public int Sessions { get; init; } = 64;

        [CommandOption("--turns <K>")]
        [Description("Turns per session. Default 1.")]
        [DefaultValue(1)]
        public int Turns { get; init; } = 1;

        [CommandOption("--tokens <T>")]
        [Description("Generated tokens per turn (greedy, no early stop). Default 64.")]
        [DefaultValue(64)]
        public int Tokens { get; init; } = 64;

        [CommandOption("--http")]
        [Description("Drive the sessions through the HTTP API on loopback instead of calling the grains.")]
        public bool Http { get; init; }

        [CommandOption("--verify")]
        [Description("Afterwards run every session alone on the engine and count those whose tokens differ.")]
        public bool Verify { get; init; }

        [CommandOption("--seconds <S>")]
        [Description("Minimum duration of the engine-alone measurement. Default 5.")]
        [DefaultValue(5.0)]
        public double Seconds { get; init; } = 5;

        [CommandOption("--json")]
        [Description("Print one JSON object with every figure.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (Sessions < 1 || Turns < 1 || Tokens < 1) return ValidationResult.Error("--sessions, --turns and --tokens must be at least 1");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        void Say(string text) { if (!settings.Json) AnsiConsole.MarkupLineInterpolated($"[grey]{text}[/]"); }
        int batch = Math.Min(settings.Sessions, 64);

        Say($"loading {settings.Model}");
        using var model = ServedModel.Load(settings.Model, Storage.ModelCache.DefaultRoot, Say);
        var config = model.Config;
        DecodeMeasurement engineAlone;
        using (var engine = new InferenceEngine(model.Engine, maxRows: 64))
        {
            Say($"engine alone: {batch} sessions stepping together for ≥ {settings.Seconds} s");
            engineAlone = await Task.Run(() => DecodeBenchmark.Measure(engine, batch, 4, settings.Seconds), cancellationToken);
        }

        int[] ports = LoopbackPorts.Free(2);
        var silo = new SiloSettings
        {
            Models = [settings.Model],
            HttpUrl = "http://127.0.0.1:0",
            SiloPort = ports[0], GatewayPort = ports[1], ClusterId = $"bench-{Guid.NewGuid():N}",
            Limits = new BackendLimits(64, Math.Max(256, settings.Sessions), Math.Max(1024, 2 * settings.Sessions)),
        };
        await using var app = await SiloHosting.StartEmbeddedAsync(silo, cancellationToken);
        var grains = app.Services.GetRequiredService<IGrainFactory>();
        using var http = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()), Timeout = Timeout.InfiniteTimeSpan };
        string name = model.Name;
        Task<ServingLoad.Report> Run(ServingLoad.Options o) => settings.Http
            ? ServingLoad.RunHttpAsync(http, config.VocabSize, config.BosTokenId, o, cancellationToken)
            : ServingLoad.RunGrainsAsync(grains, config.VocabSize, config.BosTokenId, o, cancellationToken);

        Say("warming up the silo");
        await Run(new ServingLoad.Options(name, Math.Min(8, settings.Sessions), 1, 2));
        Say($"serving: {settings.Sessions} sessions × {settings.Turns} turns × {settings.Tokens} tokens through {(settings.Http ? "HTTP on loopback" : "the session grains")}");
        var report = await Run(new ServingLoad.Options(name, settings.Sessions, settings.Turns, settings.Tokens));

        int? mismatches = null;
        if (settings.Verify)
        {
            Say("verifying every session against its run alone");
            using var engine = new InferenceEngine(model.Engine, maxRows: 64);
            mismatches = (await Task.Run(() => ServingLoad.Mismatches(engine, report), cancellationToken)).Count;
        }

        var (siloBytes, storageBytes) = await IdleSessionBytesAsync(grains, app.Services.GetRequiredService<Serializer>(), name, Math.Min(settings.Sessions, 256), config.BosTokenId, cancellationToken);
        await app.StopAsync(CancellationToken.None);

        double ratio = report.TokensPerSecond / engineAlone.TokensPerSecond;
        if (settings.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = name, sessions = settings.Sessions, turns = settings.Turns, tokens_per_turn = settings.Tokens, via = settings.Http ? "http" : "grains",
                engine_batch = batch, engine_tokens_per_s = engineAlone.TokensPerSecond, serving_tokens_per_s = report.TokensPerSecond, serving_ratio = ratio,
                errors = report.Errors.Length, mismatched_sessions = mismatches,
                ttft_p50_ms = report.TtftP50 * 1e3, ttft_p99_ms = report.TtftP99 * 1e3, token_p50_ms = report.TokenP50 * 1e3, token_p99_ms = report.TokenP99 * 1e3,
                idle_session_silo_bytes = siloBytes, idle_session_storage_bytes = storageBytes,
            }));
            return report.Errors.Length == 0 && mismatches is null or 0 ? 0 : 1;
        }
        var table = new Table().AddColumns("figure", "value");
        table.AddRow($"engine alone, batch {batch}", $"{engineAlone.TokensPerSecond:F1} tokens/s");
        table.AddRow($"serving, {settings.Sessions} sessions ({(settings.Http ? "HTTP" : "grains")})", $"{report.TokensPerSecond:F1} tokens/s ({report.Tokens} tokens in {report.WallSeconds:F1} s)");
        table.AddRow("serving / engine", $"{ratio:P1} (target ≥ 80 %)");
        table.AddRow("time to first token p50 / p99", $"{report.TtftP50 * 1e3:F1} / {report.TtftP99 * 1e3:F1} ms");
        table.AddRow("per-token latency p50 / p99", $"{report.TokenP50 * 1e3:F1} / {report.TokenP99 * 1e3:F1} ms");
        table.AddRow("errors", $"{report.Errors.Length}{(report.Errors.Length > 0 ? ": " + report.Errors[0] : "")}");
        table.AddRow("sessions differing from their run alone", mismatches?.ToString() ?? "not checked (--verify)");
        table.AddRow("idle session in the silo", $"{siloBytes / 1024.0:F1} KiB (grain, record, durable bytes, backend's cached state)");
        table.AddRow("idle session in storage", $"{storageBytes / 1024.0:F1} KiB (binary grain state)");
        AnsiConsole.Write(table);
        return report.Errors.Length == 0 && mismatches is null or 0 ? 0 : 1;
    }

    /// <summary>Managed heap growth per session after one short turn each (the state exists, nothing runs), and the size of one session's stored record.</summary>
    private static async Task<(double Silo, long Storage)> IdleSessionBytesAsync(IGrainFactory grains, Serializer serializer, string model, int count, int bos, CancellationToken cancellationToken)
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var sessions = new List<ISessionGrain>();
        for (int i = 0; i < count; i++)
        {
            var session = grains.GetGrain<ISessionGrain>($"idle-{Guid.NewGuid():N}");
            await session.CreateAsync(new SessionSpec(model, "bench", SamplingSettings.Greedy));
            await foreach (var _ in session.TurnAsync(new TurnInput([bos], 1), cancellationToken)) { }
            sessions.Add(session);
        }
        long after = GC.GetTotalMemory(forceFullCollection: true);
        var info = (await sessions[0].GetAsync())!;
        var record = new SessionRecord
        {
            Model = info.Model, Owner = info.Owner, Sampling = info.Sampling, State = new byte[info.StateBytes], Tokens = info.Tokens,
            Turns = info.Turns, Incarnation = Guid.NewGuid(), Created = info.Created, Updated = info.Updated,
        };
        foreach (var session in sessions)
            await session.DeleteAsync();
        return ((after - before) / (double)count, serializer.SerializeToArray(record).Length);
    }
}
