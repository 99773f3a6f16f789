namespace MatMulFree.Serving;

/// <summary>What a batcher reports as it works; the host maps it onto its meters (the silo's "MatMulFree.Serving").</summary>
public interface IBatchMetrics
{
    void Token();

    void Rejected();

    void Step(int sessions, TimeSpan duration);
}
