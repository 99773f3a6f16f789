namespace MatMulFree.Engine.Kernels;

/// <summary>
/// Picks the fastest ternary kernel this CPU runs, or the one <c>MMF_KERNEL</c> names
/// (<c>scalar|v128|avx2|avxvnni|avx512</c>) — for tests, for profiling and for a machine where
/// the ladder's guess is wrong.
/// </summary>
public static class TernaryKernelFactory
{
    public const string EnvironmentVariable = "MMF_KERNEL";

    /// <summary>Every kernel this CPU can run, fastest first; the scalar reference is always last.</summary>
    public static IReadOnlyList<TernaryKernel> Supported()
    {
        var list = new List<TernaryKernel>();
        // AVX-512BW first: 64 weights per instruction. AVX-VNNI's 256-bit vpdpbusd needs no
        // widening step and may win where 512-bit ops are split in two; the development machine
        // (Zen 4: AVX-512 VNNI, which .NET 10 does not expose, but no VEX AVX-VNNI) could not
        // measure it, so MMF_KERNEL=avxvnni is there to compare on machines that have it.
        if (Avx512TernaryKernel.IsSupported) list.Add(new Avx512TernaryKernel());
        if (AvxVnniTernaryKernel.IsSupported) list.Add(new AvxVnniTernaryKernel());
        if (Avx2TernaryKernel.IsSupported) list.Add(new Avx2TernaryKernel());
        if (Vector128TernaryKernel.IsSupported) list.Add(new Vector128TernaryKernel());
        list.Add(new ScalarTernaryKernel());
        return list;
    }

    /// <summary>The kernel to use: <c>MMF_KERNEL</c> when set, otherwise the first supported.</summary>
    public static TernaryKernel Create() => Create(Environment.GetEnvironmentVariable(EnvironmentVariable));

    public static TernaryKernel Create(string? name)
    {
        var supported = Supported();
        if (string.IsNullOrWhiteSpace(name))
            return supported[0];
        return supported.FirstOrDefault(k => k.Name.Equals(name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new EngineException(
                $"{EnvironmentVariable}={name}: not a kernel this CPU supports (supported: {string.Join(", ", supported.Select(k => k.Name))})");
    }
}
