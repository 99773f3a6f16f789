using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MatMulFree.Engine;
using MatMulFree.Grains.Serving;

namespace MatMulFree.Silo.Benchmarks;

/// <summary>
/// A bounded load: N sessions at once, each K turns of T generated tokens (greedy, no early stop),
/// through the session grains or the HTTP API on loopback. Records every session's tokens (to
/// compare with <see cref="SessionOracle"/>), errors, time to first token and the gaps between
/// tokens. The bench command runs it big; a test runs it small through the same code.
/// </summary>
public static class ServingLoad
{
    public sealed record Options(string Model, int Sessions, int Turns, int TokensPerTurn, int PromptTokens = 8);

    public sealed record Report(Options Options, long Tokens, double WallSeconds, string[] Errors,
        double TtftP50, double TtftP99, double TokenP50, double TokenP99, int[][][] Outputs)
    {
        public double TokensPerSecond => Tokens / WallSeconds;
    }

    /// <summary>Session i's sampling: greedy, so every output is a pure function of the model and the messages.</summary>
    public static SamplingSettings Sampling(int session) => new(Temperature: 0, Seed: (ulong)session);

    /// <summary>A deterministic message: BOS first on the first turn, then ids spread over the vocabulary.</summary>
    public static int[] Message(int session, int turn, int length, int vocab, int bos)
    {
        var ids = new int[length];
        for (int i = 0; i < length; i++)
            ids[i] = 3 + (int)((session * 7919L + turn * 104729L + i * 31L) % (vocab - 3));
        if (turn == 0)
            ids[0] = bos;
        return ids;
    }

    public static Task<Report> RunGrainsAsync(IGrainFactory grains, int vocab, int bos, Options o, CancellationToken cancellationToken) =>
        RunAsync(o, vocab, bos, async (i, turns) =>
        {
            var session = grains.GetGrain<ISessionGrain>($"load-{Guid.NewGuid():N}");
            await session.CreateAsync(new SessionSpec(o.Model, "load", Sampling(i)));
            foreach (var (message, timing) in turns)
            {
                await foreach (var e in session.TurnAsync(new TurnInput(message, o.TokensPerTurn, StopAtEos: false), cancellationToken))
                    timing(e.Token);
            }
            await session.DeleteAsync();
        });

    public static Task<Report> RunHttpAsync(HttpClient http, int vocab, int bos, Options o, CancellationToken cancellationToken) =>
        RunAsync(o, vocab, bos, async (i, turns) =>
        {
            var sampling = Sampling(i);
            var created = await http.PostAsJsonAsync("/v1/sessions", new { model = o.Model, temperature = sampling.Temperature, seed = sampling.Seed }, cancellationToken);
            string id = JsonNode.Parse(await (await EnsureAsync(created)).Content.ReadAsStringAsync(cancellationToken))!["id"]!.GetValue<string>();
            foreach (var (message, timing) in turns)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sessions/{id}/messages")
                {
                    Content = JsonContent.Create(new { tokens = message, max_tokens = o.TokensPerTurn, stream = true, stop_at_eos = false }),
                };
                using var response = await EnsureAsync(await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken));
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (!line.StartsWith("data: {", StringComparison.Ordinal))
                        continue;
                    var chunk = JsonNode.Parse(line["data: ".Length..])!;
                    if (chunk["error"] is { } error)
                        throw new InvalidOperationException(error["message"]?.GetValue<string>());
                    timing(chunk["token"]!.GetValue<int>());
                }
            }
            await EnsureAsync(await http.DeleteAsync($"/v1/sessions/{id}", cancellationToken));
        });

    /// <summary>Sessions whose served tokens differ from their run alone on <paramref name="engine"/>.</summary>
    public static List<int> Mismatches(InferenceEngine engine, Report report)
    {
        var o = report.Options;
        var bad = new List<int>();
        for (int i = 0; i < o.Sessions; i++)
        {
            var turns = Enumerable.Range(0, o.Turns).Select(t => (Message(i, t, o.PromptTokens, engine.Model.Config.VocabSize, engine.Model.Config.BosTokenId), o.TokensPerTurn));
            var alone = SessionOracle.RunAlone(engine, Sampling(i), turns, stopAtEos: false);
            if (report.Outputs[i] is null || !alone.Zip(report.Outputs[i]).All(p => p.First.SequenceEqual(p.Second)))
                bad.Add(i);
        }
        return bad;
    }

    private static async Task<Report> RunAsync(Options o, int vocab, int bos, Func<int, IEnumerable<(int[] Message, Action<int> Token)>, Task> session)
    {
        var outputs = new int[o.Sessions][][];
        var ttft = new ConcurrentBag<double>();
        var gaps = new ConcurrentBag<double>();
        var errors = new ConcurrentBag<string>();
        long tokens = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, o.Sessions).Select(i => Task.Run(async () =>
        {
            var produced = new List<int[]>();
            IEnumerable<(int[], Action<int>)> Turns()
            {
                for (int t = 0; t < o.Turns; t++)
                {
                    var output = new List<int>();
                    long last = Stopwatch.GetTimestamp();
                    bool first = true;
                    yield return (Message(i, t, o.PromptTokens, vocab, bos), token =>
                    {
                        double seconds = Stopwatch.GetElapsedTime(last).TotalSeconds;
                        (first ? ttft : gaps).Add(seconds);
                        first = false;
                        last = Stopwatch.GetTimestamp();
                        output.Add(token);
                        Interlocked.Increment(ref tokens);
                    });
                    produced.Add([.. output]);
                }
            }
            try
            {
                await session(i, Turns());
                outputs[i] = [.. produced];
            }
            catch (Exception e)
            {
                errors.Add($"session {i}: {e.GetType().Name}: {e.Message}");
            }
        })));
        double wall = clock.Elapsed.TotalSeconds;
        return new Report(o, tokens, wall, [.. errors], Percentile(ttft, 0.5), Percentile(ttft, 0.99), Percentile(gaps, 0.5), Percentile(gaps, 0.99), outputs);
    }

    private static async Task<HttpResponseMessage> EnsureAsync(HttpResponseMessage response) =>
        response.IsSuccessStatusCode ? response
        : throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");

    private static double Percentile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    }
}
