using System.Reflection;
using NetArchTest.Rules;

namespace MatMulFree.Architecture.Tests;

/// <summary>
/// The layering: libraries in src/ know nothing of Orleans (grains orchestrate them, never the
/// reverse), and the engine, the serving library and the node (server and protocol) know nothing
/// of TorchSharp (a GPU or FPGA node runs them on a machine without libtorch). Each rule also runs on an assembly that breaks it, so
/// a rule that matches nothing cannot pass unnoticed.
/// </summary>
public sealed class LayeringTests
{
    private const string Orleans = "Orleans";
    private const string TorchSharp = "TorchSharp";
    private const string AspNetCore = "Microsoft.AspNetCore";

    /// <summary>Every project folder under src/, by assembly name.</summary>
    public static TheoryData<string> SourceAssemblies()
    {
        var data = new TheoryData<string>();
        foreach (string project in Directory.GetDirectories(Path.Combine(RepoRoot(), "src")).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(project, Path.GetFileName(project) + ".csproj")))
                data.Add(Path.GetFileName(project));
        return data;
    }

    public static TheoryData<string> TorchFreeAssemblies() => new() { "MatMulFree.Engine", "MatMulFree.Serving", "MatMulFree.Node.Protocol", "MatMulFree.Node" };

    [Theory]
    [MemberData(nameof(SourceAssemblies))]
    public void SourceLibrary_Dependencies_HaveNoOrleans(string assembly) => AssertFree(Load(assembly), Orleans);

    [Theory]
    [MemberData(nameof(TorchFreeAssemblies))]
    public void EngineAndServing_Dependencies_HaveNoTorchSharp(string assembly) => AssertFree(Load(assembly), TorchSharp);

    /// <summary>A host that only calls nodes (a silo, a CLI) takes the protocol without a web server.</summary>
    [Fact]
    public void NodeProtocol_Dependencies_HaveNoAspNetCore() => AssertFree(Load("MatMulFree.Node.Protocol"), AspNetCore);

    /// <summary>
    /// The node executable runs on a GPU or FPGA host with neither a silo nor libtorch: nothing of
    /// Orleans or TorchSharp in it or in any project assembly it references, and of ASP.NET Core
    /// only what Kestrel and gRPC serving need (which the node server library brings).
    /// </summary>
    [Theory]
    [InlineData(Orleans)]
    [InlineData(TorchSharp)]
    [InlineData(AspNetCore)]
    public void NodeExecutable_Dependencies_HaveNoOrleansOrTorchSharpAndNoWebStackOfItsOwn(string dependency)
    {
        var executable = Load("mmf-node");
        AssertFree(executable, dependency);
        if (dependency == AspNetCore)
            return;
        foreach (var reference in ProjectClosure(executable))
            AssertFree(reference, dependency);
    }

    [Fact]
    public void Rules_OnAssembliesThatBreakThem_Fail()
    {
        Assert.NotEmpty(Offenders(Load("MatMulFree.Grains"), Orleans));
        Assert.NotEmpty(Offenders(Load("MatMulFree.Model"), TorchSharp));
        Assert.NotEmpty(Offenders(Load("MatMulFree.Node"), AspNetCore));
    }

    private static void AssertFree(Assembly assembly, string dependency)
    {
        var offenders = Offenders(assembly, dependency);
        Assert.True(offenders.Count == 0, $"{assembly.GetName().Name} depends on {dependency}: {string.Join(", ", offenders)}");
    }

    /// <summary>Types that use the dependency, and referenced assemblies named for it (a reference no type uses still ships the package).</summary>
    private static List<string> Offenders(Assembly assembly, string dependency)
    {
        var result = Types.InAssembly(assembly).Should().NotHaveDependencyOn(dependency).GetResult();
        var offenders = (result.FailingTypeNames ?? []).ToList();
        offenders.AddRange(assembly.GetReferencedAssemblies()
            .Select(a => a.Name ?? "")
            .Where(name => name.StartsWith(dependency, StringComparison.Ordinal) || name.StartsWith("Microsoft." + dependency, StringComparison.Ordinal))
            .Select(name => $"assembly reference {name}"));
        return offenders;
    }

    /// <summary>Every MatMulFree assembly <paramref name="root"/> references, directly or through another.</summary>
    private static List<Assembly> ProjectClosure(Assembly root)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<Assembly>([root]);
        var closure = new List<Assembly>();
        while (pending.TryDequeue(out var assembly))
        {
            foreach (var name in assembly.GetReferencedAssemblies().Select(a => a.Name ?? "").Where(n => n.StartsWith("MatMulFree.", StringComparison.Ordinal)))
            {
                if (!seen.Add(name))
                    continue;
                var reference = Load(name);
                closure.Add(reference);
                pending.Enqueue(reference);
            }
        }
        Assert.Contains(closure, a => a.GetName().Name == "MatMulFree.Node");
        return closure;
    }

    private static Assembly Load(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, name + ".dll");
        Assert.True(File.Exists(path), $"{name}.dll is not beside the tests: add src/{name} to MatMulFree.Architecture.Tests.csproj");
        return Assembly.LoadFrom(path);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MatMulFree.Cluster.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"MatMulFree.Cluster.sln not found above {AppContext.BaseDirectory}");
    }
}
