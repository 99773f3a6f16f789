using MatMulFree.Grains.Serving.Backends;
using Orleans.Runtime;

namespace MatMulFree.Silo;

/// <summary>Once the silo is active, activates a backend grain for each local backend (every model on every device), which registers it with the cluster.</summary>
public sealed class BackendStartup(LocalBackends backends, ILocalSiloDetails silo, IGrainFactory grains) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(BackendStartup), ServiceLifecycleStage.Active, async _ =>
        {
            foreach (var backend in backends.All)
                await grains.GetGrain<IBackendGrain>(BackendKey.Format(backend.Capabilities.Model, silo.SiloAddress.ToParsableString(), backend.Capabilities.Device)).StartAsync();
        });
}
