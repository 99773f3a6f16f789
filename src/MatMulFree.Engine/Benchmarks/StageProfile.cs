namespace MatMulFree.Engine.Benchmarks;

/// <summary>The stages of a forward pass that <see cref="StageProfile"/> tells apart.</summary>
public enum EngineStage
{
    Embedding,
    NormQuantize,
    IfgProduct,
    Recurrence,
    OProduct,
    GateUpProduct,
    Glu,
    DownProduct,
    LmHead,
    Sampling,
}

/// <summary>
/// Per-stage CPU time of the engine's calling thread (bench only: the engine checks one null
/// reference per stage when no profile is attached). Meaningful with one engine thread, where the
/// caller does all the work; with two it shows the caller's share only.
/// </summary>
public sealed class StageProfile
{
    private readonly double[] _seconds = new double[Enum.GetValues<EngineStage>().Length];
    private double _last = ThreadCpuClock.Seconds();

    /// <summary>Starts timing from now (call before the first stage of a pass).</summary>
    public void Restart() => _last = ThreadCpuClock.Seconds();

    /// <summary>Charges the CPU time since the previous mark to <paramref name="stage"/>.</summary>
    public void Mark(EngineStage stage)
    {
        double now = ThreadCpuClock.Seconds();
        _seconds[(int)stage] += now - _last;
        _last = now;
    }

    public double this[EngineStage stage] => _seconds[(int)stage];

    public double Total => _seconds.Sum();

    public void Clear() => Array.Clear(_seconds);
}
