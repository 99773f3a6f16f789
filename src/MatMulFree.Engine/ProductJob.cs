using MatMulFree.Engine.Kernels;
using MatMulFree.Engine.Threading;

namespace MatMulFree.Engine;

/// <summary>
/// Up to three BitLinear products over the same tokens, dispatched as one job whose rows are the
/// concatenation of the matrices' rows (the i/f/g projections share their input: one barrier for
/// three products). Each thread takes a contiguous run of rows, runs the integer kernel, then
/// dequantizes its own rows: y = (Σ c·q − Σq) · (1/s_w) / s_x, optionally added to a residual.
/// <para>
/// With lookup tables (<see cref="LutTernaryKernel"/>, for many tokens) the job's units are blocks
/// of 32 rows, and the tokens' tables are built first, as a job of their own
/// (<see cref="TableJob"/>); the lookups give Σ T·q directly.
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

    /// <summary>Units of the job: rows, or with lookup tables blocks of 32 rows.</summary>
    public int TotalUnits { get; private set; }

    /// <summary>Multiply-adds of the job: what decides whether it is worth splitting.</summary>
    public long Work { get; private set; }

    public bool UsesLookupTables => _lut;

    private TableJob? _tableJob;

    /// <summary>The table-building job of the current product (lookup tables only).</summary>
    public IRangeJob Tables => _tableJob ??= new TableJob(this);

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
        TotalUnits += _lut ? LutTernaryKernel.RowBlocks(weight.Rows) : weight.Rows;
        Work += (long)weight.Rows * weight.PaddedColumns * _tokens;
    }

    /// <summary>Table units: one per segment and token.</summary>
    public int TableUnits => _count * _tokens;

    public void BuildTables(int start, int end)
    {
        for (int u = start; u < end; u++)
        {
            ref readonly var seg = ref _segments[u / _tokens];
            int t = u % _tokens;
            LutTernaryKernel.BuildTables(seg.Acts + (long)t * seg.Weight.PaddedColumns, seg.Weight.Columns, seg.Tables + t * seg.TableStride);
        }
    }

    public void Execute(int start, int end)
    {
        int baseUnit = 0;
        for (int s = 0; s < _count; s++)
        {
            ref readonly var seg = ref _segments[s];
            var w = seg.Weight;
            int units = _lut ? LutTernaryKernel.RowBlocks(w.Rows) : w.Rows;
            int lo = Math.Max(start, baseUnit) - baseUnit, hi = Math.Min(end, baseUnit + units) - baseUnit;
            baseUnit += units;
            if (lo >= hi)
                continue;
            int qSumWeight = 1;
            if (_lut)
            {
                lo *= LutTernaryKernel.RowsPerBlock;
                hi = Math.Min(w.Rows, hi * LutTernaryKernel.RowsPerBlock);
                LutTernaryKernel.Products(w.LutIndex, w.Rows, w.Columns, lo, hi, seg.Tables, seg.TableStride, _tokens, seg.Raw, w.Rows);
                qSumWeight = 0; // the lookups sum T·q, not (T + 1)·q
            }
            else
                kernel.Products(w.Data, w.Rows, w.RowBytes, lo, hi, seg.Acts, w.PaddedColumns, _tokens, seg.Raw, w.Rows);
            for (int t = 0; t < _tokens; t++)
                Dequantizer.Apply(seg.Raw + (long)t * w.Rows + lo, seg.Output + (long)t * w.Rows + lo, hi - lo,
                    seg.QSums[t] * qSumWeight, w.Scale / seg.ActScales[t], seg.AddToOutput, simd);
        }
    }

    /// <summary>The table-building phase of a lookup-table product, split by (segment, token).</summary>
    private sealed class TableJob(ProductJob product) : IRangeJob
    {
        public void Execute(int start, int end) => product.BuildTables(start, end);
    }
}
