using System.Diagnostics;
using MatMulFree.Core;
using MatMulFree.Engine;
using MatMulFree.Grains.Serving;
using MatMulFree.Grains.Serving.Backends;
using MatMulFree.Node;
using MatMulFree.Silo;
using Microsoft.Extensions.DependencyInjection;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// Backends that front remote nodes: a silo serving the tiny model through an in-process node
/// (a CPU device behind the node protocol on a loopback port), alone or beside its own CPU device.
/// </summary>
public sealed class NodeServingTests : IAsyncLifetime
{
    private static readonly SamplingSettings Sampling = new(Temperature: 0.8f, TopK: 20, Seed: 1234);
    private static readonly (int[] Message, int MaxTokens)[] Turns = [([5, 9, 2, 7], 12), ([3, 3, 8], 10), ([11, 4], 40)];

    private readonly List<IAsyncDisposable> _started = [];
    private InferenceEngine _engine = null!;
    private ServedModel _model = null!;

    public Task InitializeAsync()
    {
        _engine = TestModels.TinyEngine(out _model);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        for (int i = _started.Count - 1; i >= 0; i--)
            await _started[i].DisposeAsync();
        _engine.Dispose();
        _model.Dispose();
    }

    [Fact]
    public async Task NodeBackend_Turns_GiveTheTokensOfTheEngineRunAlone()
    {
        var node = await StartNodeAsync();
        var cluster = await StartClusterAsync(Settings(nodes: [node.Server.Address.ToString()], noLocal: true));
        var session = await cluster.CreateSessionAsync("through-node", Sampling);

        var served = new List<int[]>();
        foreach (var (message, maxTokens) in Turns)
            served.Add(await ServingCluster.TurnAsync(session, message, maxTokens));

        var expected = TestModels.RunAlone(_engine, Sampling, Turns);
        Assert.Equal(expected.Count, served.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i], served[i]);
    }

    [Fact]
    public async Task NoLocal_Serve_ComputesOnlyOnTheNodes()
    {
        var node = await StartNodeAsync();
        var cluster = await StartClusterAsync(Settings(nodes: [node.Server.Address.ToString()], noLocal: true));
        var session = await cluster.CreateSessionAsync("no-local", Sampling);
        long before = node.Device.Counters.Tokens;

        await ServingCluster.TurnAsync(session, Turns[0].Message, Turns[0].MaxTokens);

        var backend = Assert.Single(cluster.Backends);
        Assert.StartsWith("node:", backend.Capabilities.Device);
        Assert.True(node.Device.Counters.Tokens >= before + Turns[0].Message.Length, $"node tokens {before} -> {node.Device.Counters.Tokens}");
        Assert.True(backend.Steps > 0);
    }

    [Fact]
    public async Task NodeAndLocal_Silo_HostsABackendPerDevice()
    {
        var node = await StartNodeAsync();
        var cluster = await StartClusterAsync(Settings(nodes: [node.Server.Address.ToString()]), backends: 2);

        var keys = (await cluster.Grains.GetGrain<IBackendRegistryGrain>(IBackendRegistryGrain.Key).ListAsync("tiny")).Select(b => b.Key).ToArray();

        Assert.Equal(2, keys.Length);
        Assert.Single(keys, k => BackendKey.Parse(k).Device == BackendKey.LocalDevice);
        Assert.Single(keys, k => BackendKey.Parse(k).Device == "node:" + node.Server.Address);
    }

    [Fact]
    public async Task NodeBackend_NodeStops_IsOutOfRotationWithin3sAndTheSessionGoesOnLocally()
    {
        var node = await StartNodeAsync();
        var cluster = await StartClusterAsync(Settings(nodes: [node.Server.Address.ToString()], nodesFirst: true), backends: 2);
        var registry = cluster.Grains.GetGrain<IBackendRegistryGrain>(IBackendRegistryGrain.Key);
        var session = await cluster.CreateSessionAsync("node-stops", Sampling);
        var local = cluster.Backends.Single(b => b.Capabilities.Device == BackendKey.LocalDevice);
        var served = new List<int[]> { await ServingCluster.TurnAsync(session, Turns[0].Message, Turns[0].MaxTokens) };
        Assert.True(node.Device.Counters.Steps > 0 && local.Steps == 0, "the first turn ran on the node");

        var stopped = Stopwatch.StartNew();
        await node.Server.DisposeAsync();
        while ((await registry.ListAsync("tiny")).Any(b => b.Capabilities.Device != BackendKey.LocalDevice))
        {
            Assert.True(stopped.Elapsed < TimeSpan.FromSeconds(3), $"the stopped node is still in the registry after {stopped.Elapsed}");
            await Task.Delay(50);
        }
        foreach (var (message, maxTokens) in Turns[1..])
            served.Add(await ServingCluster.TurnAsync(session, message, maxTokens));

        Assert.True(local.Steps > 0, "the later turns ran on the local device");
        var expected = TestModels.RunAlone(_engine, Sampling, Turns);
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i], served[i]);
    }

    [Fact]
    public async Task NodeBackend_NodeStopsMidTurn_TheTurnCompletesLocallyWithTheSameTokens()
    {
        var node = await StartNodeAsync(pause: TimeSpan.FromMilliseconds(20));
        var cluster = await StartClusterAsync(Settings(nodes: [node.Server.Address.ToString()], nodesFirst: true), backends: 2);
        var session = await cluster.CreateSessionAsync("node-stops-mid-turn", Sampling);
        var local = cluster.Backends.Single(b => b.Capabilities.Device == BackendKey.LocalDevice);
        (int[] Message, int MaxTokens) turn = ([11, 4], 60);
        var expected = TestModels.RunAlone(_engine, Sampling, [turn]).Single();
        Assert.True(expected.Length > 20, $"the turn is long enough to be cut ({expected.Length} tokens)");

        var tokens = new List<int>();
        Task? stopping = null;
        await foreach (var e in session.TurnAsync(new TurnInput(turn.Message, turn.MaxTokens)))
        {
            tokens.Add(e.Token);
            if (tokens.Count == 5)
                stopping = node.Server.DisposeAsync().AsTask();
        }
        await stopping!;

        Assert.Equal(expected, tokens);
        Assert.True(local.Steps > 0, "the turn was finished on the local device");
    }

    [Theory]
    [InlineData("not a url", "is not an http:// or https:// URL")]
    [InlineData("ftp://127.0.0.1:5000", "is not an http:// or https:// URL")]
    public async Task NodeSetting_Start_RefusesAValueThatIsNoUrl(string value, string expected)
    {
        var error = await Assert.ThrowsAnyAsync<MatMulFreeException>(() => CreateBackendsAsync(Settings(nodes: [value])));
        Assert.Contains($"node '{value}'", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public async Task NodeSetting_Start_RefusesANodeThatDoesNotAnswer()
    {
        string url = $"http://127.0.0.1:{LoopbackPorts.Free(1)[0]}";
        var error = await Assert.ThrowsAnyAsync<MatMulFreeException>(() => CreateBackendsAsync(Settings(nodes: [url])));
        Assert.Contains("--node", error.Message);
        Assert.Contains(url, error.Message);
    }

    [Fact]
    public async Task NoLocal_Start_RefusesWithoutNodes()
    {
        var error = await Assert.ThrowsAnyAsync<MatMulFreeException>(() => CreateBackendsAsync(Settings(noLocal: true)));
        Assert.Contains("--no-local", error.Message);
    }

    [Fact]
    public async Task NodeSetting_Start_RefusesANodeOfAnotherModel()
    {
        var node = await StartNodeAsync(load: false);
        var error = await Assert.ThrowsAnyAsync<MatMulFreeException>(() => CreateBackendsAsync(Settings(nodes: [node.Server.Address.ToString()])));
        Assert.Contains(node.Server.Address.ToString().TrimEnd('/'), error.Message);
        Assert.Contains("no model loaded", error.Message);
    }

    [Fact]
    public async Task NodeSetting_Start_RefusesANodeThatRefusesTheToken()
    {
        var node = await StartNodeAsync(token: "t0ken");
        string url = node.Server.Address.ToString();
        var error = await Assert.ThrowsAnyAsync<MatMulFreeException>(() => CreateBackendsAsync(Settings(nodes: [url], token: "wrong")));
        Assert.Contains("--node", error.Message);
        Assert.Contains(url.TrimEnd('/'), error.Message);
    }

    [Fact]
    public async Task NodeSetting_Start_RefusesTheSameNodeTwice()
    {
        var error = await Assert.ThrowsAnyAsync<MatMulFreeException>(() => CreateBackendsAsync(Settings(nodes: ["http://127.0.0.1:5701", "http://127.0.0.1:5701"])));
        Assert.Contains("--node http://127.0.0.1:5701 is given twice", error.Message);
    }

    [Theory]
    [InlineData("tiny|silo", "silo", BackendKey.LocalDevice)]
    [InlineData("tiny|silo|node:http://127.0.0.1:5701/", "silo", "node:http://127.0.0.1:5701/")]
    public void BackendKey_Parse_NamesSiloAndDevice(string key, string silo, string device)
    {
        Assert.Equal(("tiny", silo, device), BackendKey.Parse(key));
        Assert.Equal(key, BackendKey.Format("tiny", silo, device));
    }

    [Theory]
    [InlineData("tiny||node:x")]
    [InlineData("tiny|silo|")]
    public void BackendKey_Parse_RefusesAnEmptyPart(string key) =>
        Assert.Contains("is not a backend key", Assert.Throws<BackendUnavailableException>(() => BackendKey.Parse(key)).Message);

    private static SiloSettings Settings(string[]? nodes = null, bool noLocal = false, bool nodesFirst = false, string? token = null) => new()
    {
        NodeToken = token,
        ConfigureSilo = nodesFirst ? [silo => silo.Services.AddSingleton<IBackendPolicy, NodesFirstPolicy>()] : [],
        Models = [TestModels.TinyDirectory],
        Limits = new BackendLimits(),
        EngineThreads = 1,
        Nodes = [.. nodes ?? []],
        NoLocal = noLocal,
    };

    private static async Task CreateBackendsAsync(SiloSettings settings)
    {
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var catalog = new ModelCatalog(settings, Microsoft.Extensions.Logging.Abstractions.NullLogger<ModelCatalog>.Instance);
        using var backends = await catalog.CreateBackendsAsync(settings, new ServingMetrics(meters.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
    }

    private async Task<TestNode> StartNodeAsync(bool load = true, TimeSpan? pause = null, string? token = null)
    {
        var device = new CpuDevice(threads: 1, maxBatch: 64, maxSessions: 2048);
        if (load)
            await device.LoadAsync(ModelSource.Folder(TestModels.TinyDirectory));
        IDecodeDevice served = pause is { } p ? new PacedDevice(device, p) : device;
        var node = new TestNode(await NodeServer.StartAsync(served, new NodeOptions(LoopbackPorts.Free(1)[0], token)), device);
        _started.Add(node);
        return node;
    }

    private async Task<ServingCluster> StartClusterAsync(SiloSettings settings, short backends = 1)
    {
        var cluster = await ServingCluster.StartAsync(settings);
        _started.Add(cluster);
        var registry = cluster.Grains.GetGrain<IBackendRegistryGrain>(IBackendRegistryGrain.Key);
        var clock = Stopwatch.StartNew();
        while ((await registry.ListAsync()).Length < backends)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20))
                throw new TimeoutException($"{backends} backends did not register within 20 s");
            await Task.Delay(100);
        }
        return cluster;
    }

    /// <summary>Sends every turn to a node while one is in rotation: the tests need to know where a turn starts.</summary>
    private sealed class NodesFirstPolicy : IBackendPolicy
    {
        public string Choose(IReadOnlyList<BackendInfo> open, string? preferred) =>
            (open.FirstOrDefault(b => b.Capabilities.Device != BackendKey.LocalDevice) ?? open[0]).Key;
    }

    private sealed class TestNode(NodeServer server, CpuDevice device) : IAsyncDisposable
    {
        public NodeServer Server { get; } = server;
        public CpuDevice Device { get; } = device;

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            Device.Dispose();
        }
    }
}
