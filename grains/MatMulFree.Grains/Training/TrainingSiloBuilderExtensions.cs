using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Serialization;

namespace MatMulFree.Grains.Training;

/// <summary>The training grains' silo services: the silo host calls <see cref="AddMatMulFreeTraining"/> once.</summary>
public static class TrainingSiloBuilderExtensions
{
    /// <summary>Grain storage under this name holds <see cref="TrainingJobState"/>; the host configures it.</summary>
    public const string StorageName = "training";

    public static ISiloBuilder AddMatMulFreeTraining(this ISiloBuilder silo)
    {
        silo.AddPlacementDirector<DistinctSilosPlacement, DistinctSilosPlacementDirector>();
        AllowProjectExceptions(silo.Services);
        return silo;
    }

    /// <summary>
    /// Lets Orleans' exception codec carry the project's bad-input exceptions (by default it only
    /// carries System/Microsoft ones and fails the whole response otherwise). Clients call it too,
    /// so they get the typed exception back rather than a fallback.
    /// </summary>
    public static IServiceCollection AllowProjectExceptions(IServiceCollection services) =>
        services.Configure<ExceptionSerializationOptions>(o =>
        {
            if (!o.SupportedNamespacePrefixes.Contains("MatMulFree.")) o.SupportedNamespacePrefixes.Add("MatMulFree.");
        });
}
