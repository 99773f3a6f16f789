using MatMulFree.Grains.Serving;
using Orleans.Core.Internal;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace MatMulFree.Serving.Tests;

/// <summary>A session moved live to another silo (Orleans grain migration) carries on as if it had stayed.</summary>
public sealed class SessionMigrationTests() : TinyClusterTest(silos: 2)
{
    private static readonly SamplingSettings Sampled = new(Temperature: 0.8f, TopK: 30, TopP: 0.9f, Seed: 21);

    [Fact]
    public async Task SessionGrain_MigratedBetweenTurns_MovesSiloAndContinuesLikeTheEngineRunAlone()
    {
        (int[], int)[] turns = [([1, 77, 97, 116], 10), ([32, 102], 8), ([10, 65], 6)];
        var session = await Cluster.CreateSessionAsync("s-migrate", Sampled);
        var management = Cluster.Grains.GetGrain<IManagementGrain>(0);
        var served = new List<int[]>();
        var hosts = new List<SiloAddress>();
        foreach (var (message, max) in turns)
        {
            served.Add(await ServingCluster.TurnAsync(session, message, max));
            var host = await HostOf(management, session);
            hosts.Add(host);
            // Move it to the other silo before the next turn.
            var target = Cluster.Cluster.Silos.Select(s => s.SiloAddress).First(a => !a.Equals(host));
            RequestContext.Set(IPlacementDirector.PlacementHintKey, target);
            await session.Cast<IGrainManagementExtension>().MigrateOnIdle();
            RequestContext.Clear();
            // The move completes after MigrateOnIdle returns; until then the directory still names
            // the old silo (a loaded machine showed it at the next turn): wait for it to change.
            await HostOf(management, session, notOn: host);
        }

        Assert.Equal(3, (await session.GetAsync())!.Turns);
        Assert.NotEqual(hosts[0], hosts[1]);
        Assert.NotEqual(hosts[1], hosts[2]);
        Assert.Equal(TestModels.RunAlone(Engine, Sampled, turns), served);
    }

    private static async Task<SiloAddress> HostOf(IManagementGrain management, ISessionGrain session, SiloAddress? notOn = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            // Migration completes after the call that requested it returns: wait for the directory to say where.
            if (await management.GetActivationAddress(session) is { } address && !address.Equals(notOn))
                return address;
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
                throw new TimeoutException(notOn is null ? "the session's activation was not found" : $"the session did not move off {notOn}");
            await Task.Delay(50);
        }
    }
}
