using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using MatMulFree.Grains.Serving;
using MatMulFree.Silo;
using Microsoft.Extensions.DependencyInjection;

namespace MatMulFree.Serving.Tests;

/// <summary>The serving meters as a Prometheus scraper sees them on /metrics: buckets that fit seconds, and the model on every series.</summary>
public sealed partial class ServingMetricsTests : IAsyncLifetime
{
    private HttpSilo _silo = null!;

    public async Task InitializeAsync() => _silo = await HttpSilo.StartAsync(TestModels.TinySettings());

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    [Theory]
    [InlineData("mmf_serving_time_to_first_token_seconds", 0.030, "0.025", "0.05")]
    [InlineData("mmf_serving_step_duration_seconds", 0.0004, "0.00025", "0.0005")]
    public async Task ServingMetrics_Histogram_SampleLandsInTheBucketThatFitsIt(string metric, double seconds, string below, string at)
    {
        var metrics = _silo.Services.GetRequiredService<ServingMetrics>();
        var histogram = metric.Contains("first_token") ? metrics.TimeToFirstToken : metrics.StepDuration;
        // A model name no other test serves: other silos in this process feed the same meter name.
        histogram.Record(seconds, new KeyValuePair<string, object?>("model", "probe"));

        var buckets = Buckets(await ScrapeAsync(), metric, "probe");

        Assert.Equal(0, buckets.GetValueOrDefault(below, -1));
        Assert.Equal(1, buckets.GetValueOrDefault(at, -1));
    }

    [Fact]
    public async Task ServingMetrics_Completion_EverySeriesNamesTheModel()
    {
        var answer = await _silo.Client.PostAsync("/v1/completions",
            new StringContent("""{"model":"tiny","prompt":"Hello","max_tokens":4,"seed":1}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);

        string[] samples = (await ScrapeAsync()).Split('\n').Where(l => l.StartsWith("mmf_serving_", StringComparison.Ordinal)).ToArray();

        foreach (string name in new[] { "mmf_serving_tokens", "mmf_serving_step_duration_seconds_bucket", "mmf_serving_batch_size_bucket", "mmf_serving_time_to_first_token_seconds_bucket" })
            Assert.Contains(samples, l => l.StartsWith(name, StringComparison.Ordinal) && l.Contains("model=\"tiny\"", StringComparison.Ordinal));
        Assert.All(samples, l => Assert.Contains("model=\"", l));
    }

    private async Task<string> ScrapeAsync()
    {
        var response = await _silo.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Cumulative bucket counts by their le bound, of one histogram's series for one model.</summary>
    private static Dictionary<string, long> Buckets(string exposition, string metric, string model) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(metric + "_bucket{", StringComparison.Ordinal) && l.Contains($"model=\"{model}\"", StringComparison.Ordinal))
            .Select(l => BucketLine().Match(l))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups["le"].Value, m => long.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex("""le="(?<le>[^"]+)"\} (?<count>\d+)""")]
    private static partial Regex BucketLine();
}
