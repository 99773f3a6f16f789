using MatMulFree.Engine.Kernels;
using MatMulFree.Engine.Threading;

namespace MatMulFree.Engine;

/// <summary>
/// Up to three BitLinear products over the same tokens, dispatched as one job whose rows are the
/// concatenation of the matrices' rows (the i/f/g projections share their input: one barrier for
/// three products). Each thread takes a contiguous run of rows, runs the integer kernel, then
/// dequantizes its own rows: y = (Σ c·q − Σq) · (1/s_w) / s_x, optionally added to a residual.
/// <para>
/// With lookup tables (<see cref="LutTernaryKernel"/>, for many tokens) the job's units are
/// tokens instead, of every matrix in turn: each thread builds the tables of its own tokens and
/// looks them up against every row, so its tables stay in its own L2 and no barrier separates
/// building from lookup. (Split by rows, both threads read all 64 tokens' tables, 1.4–3.8 MB,
/// from L3: two threads made 1.2–1.7× one thread's speed on the 370M shapes, against 1.8–2.1×
/// split by tokens.) The lookups give Σ T·q directly.
/// </para>
/// </summary>
internal sealed unsafe class ProductJob(TernaryKernel kernel, short* tables, bool simd) : IRangeJob
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
        public short* Tables;
        public long TableStride;
    }

    private readonly Segment[] _segments = new Segment[3];
    private int _count, _tokens;
    private bool _lut;
    private short* _nextTables;

    /// <summary>Units of the job: rows, or with lookup tables tokens (of each matrix in turn).</summary>
    public int TotalUnits { get; private set; }

    /// <summary>Multiply-adds of the job: what decides whether it is worth splitting.</summary>
    public long Work { get; private set; }

    public bool UsesLookupTables => _lut;

    public void Begin(int tokens, bool lookupTables)
    {
        _count = 0;
        _tokens = tokens;
        _lut = lookupTables;
        _nextTables = tables;
        TotalUnits = 0;
        Work = 0;
    }

    /// <param name="acts">[tokens, W.PaddedColumns] int8 activations.</param>
    /// <param name="raw">Scratch for the integer sums, [tokens, W.Rows]; may equal <paramref name="output"/> unless adding.</param>
    /// <param name="output">[tokens, W.Rows] floats, overwritten or (with <paramref name="addToOutput"/>) added to.</param>
    public void Add(PackedTernaryMatrix weight, sbyte* acts, int* qSums, float* actScales, int* raw, float* output, bool addToOutput)
    {
        long stride = LutTernaryKernel.TableBytes(weight.Columns) / sizeof(short);
        _segments[_count++] = new Segment
        {
            Weight = weight, Acts = acts, QSums = qSums, ActScales = actScales, Raw = raw, Output = output, AddToOutput = addToOutput,
            Tables = _nextTables, TableStride = stride,
        };
        if (_lut)
            _nextTables += stride * _tokens;
        TotalUnits += _lut ? _tokens : weight.Rows;
        Work += (long)weight.Rows * weight.PaddedColumns * _tokens;
    }

    public void Execute(int start, int end)
    {
        int baseUnit = 0;
        for (int s = 0; s < _count; s++)
        {
            ref readonly var seg = ref _segments[s];
            int units = _lut ? _tokens : seg.Weight.Rows;
            int lo = Math.Max(start, baseUnit) - baseUnit, hi = Math.Min(end, baseUnit + units) - baseUnit;
            baseUnit += units;
            if (lo >= hi)
                continue;
            if (_lut)
                LookupTokens(seg, lo, hi);
            else
                MultiplyRows(seg, lo, hi);
        }
    }

    /// <summary>Rows [lo, hi) of one matrix for every token, on the 2-bit codes: Σ c·q − Σq.</summary>
    private void MultiplyRows(in Segment seg, int lo, int hi)
    {
        var w = seg.Weight;
        kernel.Products(w.Data, w.Rows, w.RowBytes, lo, hi, seg.Acts, w.PaddedColumns, _tokens, seg.Raw, w.Rows);
        for (int t = 0; t < _tokens; t++)
            Dequantizer.Apply(seg.Raw + (long)t * w.Rows + lo, seg.Output + (long)t * w.Rows + lo, hi - lo,
                seg.QSums[t], w.Scale / seg.ActScales[t], seg.AddToOutput, simd);
    }

    /// <summary>Tokens [lo, hi) of one matrix against every row, by lookup: their tables, then Σ T·q.</summary>
    private void LookupTokens(in Segment seg, int lo, int hi)
    {
        var w = seg.Weight;
        for (int t = lo; t < hi; t++)
            LutTernaryKernel.BuildTables(seg.Acts + (long)t * w.PaddedColumns, w.Columns, seg.Tables + t * seg.TableStride, simd);
        LutTernaryKernel.Products(w.LutIndex, w.Rows, w.Columns, 0, w.Rows, seg.Tables + lo * seg.TableStride, seg.TableStride,
            hi - lo, seg.Raw + (long)lo * w.Rows, w.Rows, simd);
        for (int t = lo; t < hi; t++)
            Dequantizer.Apply(seg.Raw + (long)t * w.Rows, seg.Output + (long)t * w.Rows, w.Rows,
                0, w.Scale / seg.ActScales[t], seg.AddToOutput, simd);
    }
}
