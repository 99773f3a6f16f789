using MatMulFree.Engine;
using MatMulFree.Silo;

namespace MatMulFree.Serving.Tests;

/// <summary>
/// A test class's in-process cluster serving the golden tiny model, and the same model on an engine
/// of its own: the oracle a session's tokens are compared with.
/// </summary>
public abstract class TinyClusterTest(short silos) : IAsyncLifetime
{
    protected ServingCluster Cluster { get; private set; } = null!;
    protected InferenceEngine Engine { get; private set; } = null!;
    private ServedModel _model = null!;

    public async Task InitializeAsync()
    {
        Cluster = await ServingCluster.StartAsync(TestModels.TinySettings(), silos);
        Engine = TestModels.TinyEngine(out _model);
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Engine.Dispose();
        _model.Dispose();
    }
}
