using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// Fronts one compute backend of the silo it lives on (placed there by key, never elsewhere):
/// registers it, sends a heartbeat with its load every second, and streams turns into its batch.
/// Reentrant, because many sessions' turns run through it at once; the backend is thread-safe and
/// does the compute on its own threads. Called by <see cref="SessionGrain"/>s; started by the silo host.
/// </summary>
[BackendPlacement]
[Reentrant]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class BackendGrain(LocalBackends local, ILogger<BackendGrain> log) : Grain, IBackendGrain
{
    public static readonly TimeSpan HeartbeatPeriod = TimeSpan.FromSeconds(1);

    private IComputeBackend? _backend;

    private IComputeBackend Backend => _backend ?? throw new BackendUnavailableException($"backend {this.GetPrimaryKeyString()} is not active");

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (model, _) = BackendKey.Parse(this.GetPrimaryKeyString());
        _backend = local.Find(model)
            ?? throw new BackendUnavailableException($"silo {RuntimeIdentity} serves no model '{model}'");
        this.RegisterGrainTimer(HeartbeatAsync, new GrainTimerCreationOptions(HeartbeatPeriod, HeartbeatPeriod) { Interleave = true });
        await HeartbeatAsync(cancellationToken);
    }

    public Task<BackendInfo> StartAsync() => Task.FromResult(Describe());

    public async IAsyncEnumerable<BackendEvent> RunAsync(BackendTurn turn, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var events = Backend.Submit(turn, cancellationToken);
        await foreach (var e in events.ReadAllAsync(cancellationToken))
            yield return e;
    }

    private BackendInfo Describe() => new(this.GetPrimaryKeyString(), Backend.Capabilities, Backend.Active, Backend.Queued, DateTimeOffset.UtcNow);

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            await GrainFactory.GetGrain<IBackendRegistryGrain>(IBackendRegistryGrain.Key).RegisterAsync(Describe());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The registry may be moving to another silo; the next heartbeat registers again.
            log.LogWarning(e, "backend {Backend}: heartbeat failed", this.GetPrimaryKeyString());
        }
    }
}
