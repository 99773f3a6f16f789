using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// Fronts one compute backend of the silo it lives on (placed there by key, never elsewhere):
/// registers it, sends a heartbeat with its load every second, takes it out of the registry as soon
/// as its device fails a health check (and back in once it passes), and streams turns into its batch.
/// Reentrant, because many sessions' turns run through it at once; the backend is thread-safe and
/// does the compute on its own threads. Called by <see cref="SessionGrain"/>s; started by the silo host.
/// </summary>
[BackendPlacement]
[Reentrant]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class BackendGrain(LocalBackends local, ILogger<BackendGrain> log) : Grain, IBackendGrain
{
    public static readonly TimeSpan HeartbeatPeriod = TimeSpan.FromSeconds(1);

    // Reading the device's latest health is a field read, so it is looked at far more often than the
    // heartbeat: a node that stops answering leaves the router's choices within a probe period or two.
    private static readonly TimeSpan HealthWatchPeriod = TimeSpan.FromMilliseconds(250);

    private bool _outOfRotation;

    private IComputeBackend? _backend;

    private IComputeBackend Backend => _backend ?? throw new BackendUnavailableException($"backend {this.GetPrimaryKeyString()} is not active");

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (model, _, device) = BackendKey.Parse(this.GetPrimaryKeyString());
        _backend = local.Find(model, device)
            ?? throw new BackendUnavailableException($"silo {RuntimeIdentity} serves no model '{model}' on device '{device}'");
        this.RegisterGrainTimer(HeartbeatAsync, new GrainTimerCreationOptions(HeartbeatPeriod, HeartbeatPeriod) { Interleave = true });
        this.RegisterGrainTimer(WatchHealthAsync, new GrainTimerCreationOptions(HealthWatchPeriod, HealthWatchPeriod) { Interleave = true });
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

    private async Task WatchHealthAsync(CancellationToken cancellationToken)
    {
        // While faulted it removes itself every tick: a heartbeat sent just before the fault may reach the registry after the removal.
        if (Backend.Fault is not null || _outOfRotation)
            await HeartbeatAsync(cancellationToken);
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            var registry = GrainFactory.GetGrain<IBackendRegistryGrain>(IBackendRegistryGrain.Key);
            if (Backend.Fault is { } fault)
            {
                if (!_outOfRotation)
                    log.LogWarning("backend {Backend}: out of rotation ({Fault})", this.GetPrimaryKeyString(), fault);
                _outOfRotation = true;
                await registry.RemoveAsync(this.GetPrimaryKeyString());
                return;
            }
            if (_outOfRotation)
                log.LogInformation("backend {Backend}: healthy again, back in rotation", this.GetPrimaryKeyString());
            _outOfRotation = false;
            await registry.RegisterAsync(Describe());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The registry may be moving to another silo; the next heartbeat registers again.
            log.LogWarning(e, "backend {Backend}: heartbeat failed", this.GetPrimaryKeyString());
        }
    }
}
