namespace MatMulFree.Core.Tests;

internal static class RepoPaths
{
    /// <summary>The repository root: the first parent folder that holds the solution file.</summary>
    public static string Root { get; } = FindRoot();

    public static string Golden(string file) => Path.Combine(Root, "tests", "data", "golden", file);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MatMulFree.Cluster.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no MatMulFree.Cluster.sln above {AppContext.BaseDirectory}");
    }
}
