using MatMulFree.Core;
using MatMulFree.Engine;

namespace MatMulFree.Serving.Library.Tests;

/// <summary>The golden tiny model (real weights, V 256, d 64, L 2) as a folder a device loads, and the engine run on it alone: the oracle.</summary>
public static class TinyModel
{
    public static string Directory { get; } = Copy("tiny");

    /// <summary>The model as the engine alone loads it, for the reference results.</summary>
    public static EngineModel Load()
    {
        using var folder = ModelFolder.Open(Directory);
        return ServingConverter.FromCheckpoint(folder.Weights, folder.Config, Directory);
    }

    /// <summary>
    /// A private copy of tests/data/models/NAME: its files are symlinks into the golden folder, and
    /// SafeTensorsFile measures a symlink's own length instead of its target's.
    /// </summary>
    private static string Copy(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "data", "models", name);
            if (!File.Exists(Path.Combine(candidate, ModelFolder.ConfigFileName)))
                continue;
            string copy = Path.Combine(System.IO.Directory.CreateTempSubdirectory("mmf-device-").FullName, name);
            System.IO.Directory.CreateDirectory(copy);
            foreach (string file in System.IO.Directory.GetFiles(candidate))
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            return copy;
        }
        throw new DirectoryNotFoundException($"tests/data/models/{name} not found above {AppContext.BaseDirectory}");
    }
}
