using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;

namespace MatMulFree.Grains.Training;

/// <summary>The training grains' silo services: the silo host calls <see cref="AddMatMulFreeTraining"/> once.</summary>
public static class TrainingSiloBuilderExtensions
{
    /// <summary>Grain storage under this name holds <see cref="TrainingJobState"/>; the host configures it.</summary>
    public const string StorageName = "training";

    public static ISiloBuilder AddMatMulFreeTraining(this ISiloBuilder silo)
    {
        silo.AddPlacementDirector<DistinctSilosPlacement, DistinctSilosPlacementDirector>();
        silo.Services.AllowProjectExceptions();
        return silo;
    }
}
