using MatMulFree.Engine;

namespace MatMulFree.Serving.Library.Tests;

/// <summary>
/// What every <see cref="IDecodeDevice"/> must do, run by each implementation (today the CPU
/// device; GPU, FPGA and remote devices derive their own class from this one). The oracle is the
/// CPU engine run alone on the same weights.
/// </summary>
public abstract class DecodeDeviceContract : IDisposable
{
    protected const int MaxBatch = 4;
    protected const int MaxSessions = 16;

    private static readonly int[] PromptA = [1, 72, 101, 108, 108, 111];
    private static readonly int[] PromptB = [1, 65];
    private static readonly int[] PromptC = [1, 200, 13, 7, 99, 100, 42, 3, 250, 17, 18, 19, 20, 21, 22, 23, 24, 25];

    private readonly IDecodeDevice _device;
    private readonly EngineModel _reference = TinyModel.Load();

    protected DecodeDeviceContract()
    {
        _device = CreateDevice(MaxBatch, MaxSessions);
        Loaded = _device.LoadAsync(ModelSource.Folder(TinyModel.Directory)).GetAwaiter().GetResult();
    }

    /// <summary>A device with no model loaded yet, bounded as asked.</summary>
    protected abstract IDecodeDevice CreateDevice(int maxBatch, int maxSessions);

    /// <summary>Largest |Δ| allowed between this device's logits and the CPU engine's: 0 for a device that runs the engine's arithmetic.</summary>
    protected virtual float LogitTolerance => 0f;

    /// <summary>Whether the device reports joules (an FPGA's energy model does; the CPU has no meter).</summary>
    protected abstract bool ReportsEnergy { get; }

    private DeviceModel Loaded { get; }

    private int V => Loaded.VocabSize;

    public void Dispose()
    {
        _device.Dispose();
        _reference.Dispose();
        DisposeHosts();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what a derived suite started to host its devices (a node server), after the devices.</summary>
    protected virtual void DisposeHosts() { }

    [Fact]
    public void Device_LoadAsync_ReportsTheModelAndIsReady()
    {
        Assert.Equal(_reference.IdentityHex, Loaded.Identity);
        Assert.Equal(_reference.Config.VocabSize, Loaded.VocabSize);
        Assert.Equal(_reference.Config.EosTokenId, Loaded.EosTokenId);
        Assert.Equal(Loaded, _device.Model);
        Assert.True(_device.Health.Ready, _device.Health.Detail);
        Assert.Equal(new DeviceCapacity(MaxBatch, MaxSessions), _device.Capacity);
    }

    [Fact]
    public async Task Device_LoadAsync_RefusesAChecksumThatDoesNotMatch()
    {
        using var device = CreateDevice(MaxBatch, MaxSessions);
        var error = await Assert.ThrowsAsync<DeviceRequestException>(() => device.LoadAsync(ModelSource.Folder(TinyModel.Directory, checksum: "0123456789abcdef")));
        Assert.Equal(DeviceFault.BadModel, error.Fault);
        Assert.Contains("0123456789abcdef", error.Message);
        Assert.False(device.Health.Ready);
    }

    [Fact]
    public void Device_Prefill_ThenDecodeEqualsTheEngineAlone()
    {
        using var engine = new InferenceEngine(_reference, threads: 1);
        var expected = new float[2 * V];
        var state = engine.CreateState();
        engine.Prefill(state, PromptC, expected.AsSpan(0, V));
        engine.Decode(state, 5, expected.AsSpan(V, V));

        var session = _device.CreateSession();
        var actual = new float[2 * V];
        _device.Prefill([session], [PromptC], actual.AsSpan(0, V));
        _device.Decode([session], [5], actual.AsSpan(V, V));

        AssertClose(expected, actual);
        Assert.Equal(PromptC.Length + 1, _device.ExportSession(session).Tokens);
    }

    [Fact]
    public void Device_Decode_BatchEqualsEachSessionDecodedAlone()
    {
        var sessions = new[] { _device.CreateSession(), _device.CreateSession(), _device.CreateSession() };
        var prompts = new[] { PromptA, PromptB, PromptC };
        _device.Prefill(sessions, prompts, new float[3 * V]);
        var alone = sessions.Select(_device.CopySession).ToArray();
        int[] tokens = [10, 11, 12];

        var batched = new float[3 * V];
        _device.Decode(sessions, tokens, batched);
        for (int i = 0; i < 3; i++)
        {
            var single = new float[V];
            _device.Decode([alone[i]], [tokens[i]], single);
            Assert.True(single.AsSpan().SequenceEqual(batched.AsSpan(i * V, V)), $"row {i} of the batch differs from its session decoded alone");
            Assert.Equal(_device.ExportSession(alone[i]).Bytes, _device.ExportSession(sessions[i]).Bytes);
        }
    }

    [Fact]
    public void Device_ExportSession_ImportRoundTripContinuesIdentically()
    {
        var session = _device.CreateSession();
        _device.Prefill([session], [PromptA], new float[V]);
        var exported = _device.ExportSession(session);
        Assert.Equal(Loaded.StateBytes, exported.Bytes.Length);
        Assert.Equal(PromptA.Length, exported.Tokens);

        var imported = _device.ImportSession(exported.Bytes);
        Assert.Equal(exported, _device.ExportSession(imported) with { Bytes = exported.Bytes });
        Assert.Equal(exported.Bytes, _device.ExportSession(imported).Bytes);
        var fromOriginal = new float[V];
        var fromImported = new float[V];
        _device.Decode([session], [33], fromOriginal);
        _device.Decode([imported], [33], fromImported);
        Assert.Equal(fromOriginal, fromImported);
    }

    [Fact]
    public void Device_Decode_UnknownSessionIsRefusedByName()
    {
        var dropped = _device.CreateSession();
        _device.DropSession(dropped);
        var error = Assert.Throws<DeviceRequestException>(() => _device.Decode([dropped], [1], new float[V]));
        Assert.Equal(DeviceFault.UnknownSession, error.Fault);
        Assert.Contains(dropped.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.Equal(DeviceFault.UnknownSession, Assert.Throws<DeviceRequestException>(() => _device.ExportSession(dropped)).Fault);
        Assert.Equal(DeviceFault.UnknownSession, Assert.Throws<DeviceRequestException>(() => _device.DropSession(dropped)).Fault);
        AssertStillServes();
    }

    [Fact]
    public void Device_ImportSession_StateOfTheWrongSizeIsRefusedByName()
    {
        var session = _device.CreateSession();
        byte[] bytes = _device.ExportSession(session).Bytes;

        var truncated = Assert.Throws<DeviceRequestException>(() => _device.ImportSession(bytes.AsSpan(0, bytes.Length - 4)));
        Assert.Equal(DeviceFault.BadState, truncated.Fault);
        Assert.Contains("bytes", truncated.Message);

        // The engine's format, well formed and this model's, but of another shape.
        var otherShape = new RecurrentState(_reference.Identity, layers: 1, width: 8).Serialize();
        var shape = Assert.Throws<DeviceRequestException>(() => _device.ImportSession(otherShape));
        Assert.Equal(DeviceFault.BadState, shape.Fault);
        Assert.Contains("1 x 8", shape.Message);

        var otherModel = new RecurrentState(_reference.Identity ^ 1, _reference.Config.NumHiddenLayers, _reference.Config.MixerWidth).Serialize();
        Assert.Equal(DeviceFault.BadState, Assert.Throws<DeviceRequestException>(() => _device.ImportSession(otherModel)).Fault);
        AssertStillServes();
    }

    [Fact]
    public void Device_Decode_TokenOutsideTheVocabularyIsRefusedByName()
    {
        var a = _device.CreateSession();
        var b = _device.CreateSession();
        var before = _device.ExportSession(a).Bytes;

        var error = Assert.Throws<DeviceRequestException>(() => _device.Decode([a, b], [1, V], new float[2 * V]));
        Assert.Equal(DeviceFault.TokenOutOfVocabulary, error.Fault);
        Assert.Contains($"token id {V}", error.Message);
        var prefill = Assert.Throws<DeviceRequestException>(() => _device.Prefill([a], [[1, -1]], new float[V]));
        Assert.Equal(DeviceFault.TokenOutOfVocabulary, prefill.Fault);
        // A refused batch advances none of its sessions.
        Assert.Equal(before, _device.ExportSession(a).Bytes);
        AssertStillServes();
    }

    [Fact]
    public void Device_Decode_BatchAboveCapacityIsRefusedByName()
    {
        var sessions = Enumerable.Range(0, MaxBatch + 1).Select(_ => _device.CreateSession()).ToArray();
        var error = Assert.Throws<DeviceRequestException>(() => _device.Decode(sessions, new int[MaxBatch + 1], new float[(MaxBatch + 1) * V]));
        Assert.Equal(DeviceFault.BatchTooLarge, error.Fault);
        Assert.Contains($"{MaxBatch + 1}", error.Message);
        Assert.Contains($"{MaxBatch}", error.Message);

        var twice = Assert.Throws<DeviceRequestException>(() => _device.Decode([sessions[0], sessions[0]], [1, 2], new float[2 * V]));
        Assert.Equal(DeviceFault.DuplicateSession, twice.Fault);
        AssertStillServes();
    }

    [Fact]
    public void Device_CreateSession_AboveMaxSessionsIsRefusedByName()
    {
        for (int i = 0; i < MaxSessions; i++)
            _device.CreateSession();
        var error = Assert.Throws<DeviceRequestException>(() => _device.CreateSession());
        Assert.Equal(DeviceFault.TooManySessions, error.Fault);
        Assert.Contains($"{MaxSessions}", error.Message);
    }

    [Fact]
    public void Device_Prefill_EmptyPromptIsRefusedByName()
    {
        var session = _device.CreateSession();
        var error = Assert.Throws<DeviceRequestException>(() => _device.Prefill([session], [[]], new float[V]));
        Assert.Equal(DeviceFault.EmptyPrompt, error.Fault);
    }

    [Fact]
    public void Device_Counters_MoveWithPrefillAndDecode()
    {
        var before = _device.Counters;
        var session = _device.CreateSession();
        _device.Prefill([session], [PromptA], new float[V]);
        _device.Decode([session], [3], new float[V]);
        _device.Decode([session], [4], new float[V]);
        var after = _device.Counters;

        Assert.Equal(before.Tokens + PromptA.Length + 2, after.Tokens);
        Assert.Equal(before.Steps + 2, after.Steps);
        Assert.True(after.BusyTime > before.BusyTime);
        if (ReportsEnergy)
            Assert.True(after.Joules > before.Joules);
        else
            Assert.Null(after.Joules);
    }

    [Fact]
    public void Device_CreateSession_BeforeLoadIsRefusedByName()
    {
        using var device = CreateDevice(MaxBatch, MaxSessions);
        Assert.Equal(DeviceStatus.Unloaded, device.Health.Status);
        Assert.Null(device.Model);
        Assert.Equal(DeviceFault.NotLoaded, Assert.Throws<DeviceRequestException>(() => device.CreateSession()).Fault);
    }

    /// <summary>After a refused request the device serves a fresh session exactly as the engine does.</summary>
    private void AssertStillServes()
    {
        using var engine = new InferenceEngine(_reference, threads: 1);
        var expected = new float[V];
        engine.Prefill(engine.CreateState(), PromptB, expected);
        var actual = new float[V];
        _device.Prefill([_device.CreateSession()], [PromptB], actual);
        AssertClose(expected, actual);
        Assert.True(_device.Health.Ready, _device.Health.Detail);
    }

    private void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= LogitTolerance, $"largest |Δ| against the engine {worst}, allowed {LogitTolerance}");
    }
}
