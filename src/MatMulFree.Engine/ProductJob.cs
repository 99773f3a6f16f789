using MatMulFree.Engine.Kernels;
using MatMulFree.Engine.Threading;

namespace MatMulFree.Engine;

/// <summary>
/// Up to three BitLinear products over the same tokens, dispatched as one job whose rows are the
/// concatenation of the matrices' rows (the i/f/g projections share their input: one barrier for
/// three products). Each thread takes a contiguous run of rows, runs the integer kernel, then
/// dequantizes its own rows: y = (Σ c·q − Σq) · (1/s_w) / s_x, optionally added to a residual.
/// </summary>
internal sealed unsafe class ProductJob(TernaryKernel kernel) : IRangeJob
{
    private struct Segment
    {
        public PackedTernaryMatrix Weight;
        public sbyte* Acts;
        public int* QSums;
        public float* ActScales;
        public int* Raw;
        public float* Output;
        public bool AddToOutput;
    }

    private readonly Segment[] _segments = new Segment[3];
    private int _count, _tokens;

    public int TotalRows { get; private set; }

    /// <summary>Multiply-adds of the job: what decides whether it is worth splitting.</summary>
    public long Work { get; private set; }

    public void Begin(int tokens)
    {
        _count = 0;
        _tokens = tokens;
        TotalRows = 0;
        Work = 0;
    }

    /// <param name="acts">[tokens, W.PaddedColumns] int8 activations.</param>
    /// <param name="raw">Scratch for the integer sums, [tokens, W.Rows]; may equal <paramref name="output"/> unless adding.</param>
    /// <param name="output">[tokens, W.Rows] floats, overwritten or (with <paramref name="addToOutput"/>) added to.</param>
    public void Add(PackedTernaryMatrix weight, sbyte* acts, int* qSums, float* actScales, int* raw, float* output, bool addToOutput)
    {
        _segments[_count++] = new Segment
        {
            Weight = weight, Acts = acts, QSums = qSums, ActScales = actScales, Raw = raw, Output = output, AddToOutput = addToOutput,
        };
        TotalRows += weight.Rows;
        Work += (long)weight.Rows * weight.PaddedColumns * _tokens;
    }

    public void Execute(int start, int end)
    {
        int baseRow = 0;
        for (int s = 0; s < _count; s++)
        {
            ref readonly var seg = ref _segments[s];
            var w = seg.Weight;
            int lo = Math.Max(start, baseRow) - baseRow, hi = Math.Min(end, baseRow + w.Rows) - baseRow;
            baseRow += w.Rows;
            if (lo >= hi)
                continue;
            kernel.Products(w.Data, w.RowBytes, lo, hi, seg.Acts, w.PaddedColumns, _tokens, seg.Raw, w.Rows);
            for (int t = 0; t < _tokens; t++)
            {
                int* raw = seg.Raw + (long)t * w.Rows;
                float* output = seg.Output + (long)t * w.Rows;
                int qSum = seg.QSums[t];
                float factor = w.Scale / seg.ActScales[t];
                if (seg.AddToOutput)
                    for (int r = lo; r < hi; r++)
                        output[r] += (raw[r] - qSum) * factor;
                else
                    for (int r = lo; r < hi; r++)
                        output[r] = (raw[r] - qSum) * factor;
            }
        }
    }
}
