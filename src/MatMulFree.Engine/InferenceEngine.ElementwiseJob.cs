using MatMulFree.Engine.Kernels;
using MatMulFree.Engine.Threading;

namespace MatMulFree.Engine;

public sealed unsafe partial class InferenceEngine
{
    /// <summary>
    /// The element-wise stages of a pass (norm + quantize, the MLGRU recurrence and output gate,
    /// the GLU), split over the engine's threads so that no thread idles (or spins) through them.
    /// <para>
    /// Each thread takes a range of channels of every token, in two phases — whatever the number
    /// of tokens or threads, so that a token's arithmetic never depends on what else is in the pass
    /// (a session decoded in a batch must produce exactly what it produces alone). The
    /// first computes a token's vector v up to a positive factor c₁ (c₁ = the block RMSNorm's
    /// rstd, or the g-norm's, which need the whole vector) and leaves Σ(raw)², Σv², max|v·γ| per
    /// 256-channel block; the caller adds the blocks in order, so the sums do not depend on how
    /// the channels were split. Since c₁ and BitLinear's own rstd₂ factor out of the max,
    /// the second phase can quantize at once: q = round(v·c₁·rstd₂·γ·s_x). Two phases instead
    /// of four: each is a pool job, and at batch 1 a job's hand-off costs as much as its work.
    /// </para>
    /// </summary>
    private sealed class ElementwiseJob : IRangeJob
    {
        /// <summary>
        /// Channels per partial-result slot (and the granularity of a channel split). 64 made a
        /// batch-64 token's element-wise stages cost 0.42 ms of one thread's time, most of it in the
        /// calls per block; 256 cost 0.30 (1,024 channels still split evenly over two threads).
        /// </summary>
        private const int Block = 256;

        // Channel ranges of every token: the first phase of each stage, then the shared second.
        private enum Phase { NormStats, MixerStats, GluStats, Quantize }

        private readonly InferenceEngine e;
        private readonly int _slots;
        // Partial results are stored slot-major (slot b of row s at b·_rowsPerSlot + s): the threads
        // walk the tokens in step, each writing its own slots, and row-major those were neighbouring
        // words of one cache line.
        private readonly int _rowsPerSlot;
        // One pass of 512-bit vectors per phase where the machine has them: chosen by the machine
        // alone, so a session computes the same whatever else is in the batch.
        private readonly bool _fused;
        private readonly float[] _rawSquares, _squares, _max, _factor;
        private readonly int[] _qSum;
        private readonly float[][] _gains = new float[3][];
        private Phase _phase;
        private int _n, _gainCount, _layerIndex, _length;
        private float[] _norm = [];
        private float _eps;
        private EngineLayer? _layer;
        // The vector of the channel phases: token t's values at _vector + t·_vectorStride.
        private float* _vector;
        private long _vectorStride;
        // Where the quantization phase writes: gain g, token t → slot g·n + t of these.
        private sbyte* _q;
        private int _qStride;
        private float* _sx;

        public ElementwiseJob(InferenceEngine engine)
        {
            e = engine;
            int longest = Math.Max(Math.Max(engine._d, engine._m), engine._l);
            _slots = (longest + Block - 1) / Block;
            int rows = engine.MaxRows;
            _rowsPerSlot = 3 * rows;
            _fused = engine.Simd && FusedBlockKernels.IsSupported;
            _rawSquares = new float[_rowsPerSlot * _slots];
            _squares = new float[_rowsPerSlot * _slots];
            _max = new float[_rowsPerSlot * _slots];
            _qSum = new int[_rowsPerSlot * _slots];
            _factor = new float[rows];
        }

        /// <summary>For each token: x̂ = RMSNorm(x; norm, eps), then up to three BitLinear quantizations of x̂ into the A buffers.</summary>
        public void NormQuantize(int n, float[] norm, float eps, params ReadOnlySpan<float[]> gains)
        {
            _n = n; _norm = norm; _eps = eps; _gainCount = gains.Length;
            for (int i = 0; i < gains.Length; i++)
                _gains[i] = gains[i];
            // v = x·norm (c₁ = the block norm's rstd, from Σx²).
            SetVector(e._xn, e._d, e._d);
            RunChannels(Phase.NormStats);
            for (int t = 0; t < n; t++)
                _factor[t] = ActivationQuantizer.Rstd(SumSlots(_rawSquares, t), e._d, eps);
            QuantizeVector(e._qA, e._kd, e._sxA, e._sumA);
        }

        /// <summary>The MLGRU step of every token (in time order when the tokens share a state), then the o_proj quantization.</summary>
        public void Mixer(int n, int layerIndex, EngineLayer layer, float eps)
        {
            _n = n; _layerIndex = layerIndex; _layer = layer; _eps = eps;
            // v = g·gNorm·SiLU(h) in place of the g rows (c₁ = the g-norm's rstd, from Σg²).
            int m = e._m;
            _gainCount = 1;
            _gains[0] = layer.O.NormGain;
            SetVector(e._ifg + 2L * n * m, m, m);
            RunChannels(Phase.MixerStats);
            for (int t = 0; t < n; t++)
                _factor[t] = ActivationQuantizer.Rstd(SumSlots(_rawSquares, t), m, eps);
            QuantizeVector(e._qB, e._km, e._sxB, e._sumB);
        }

        /// <summary>SiLU(gate) ⊙ up for every token, then the down_proj quantization.</summary>
        public void Glu(int n, float[] downGain)
        {
            _n = n; _gains[0] = downGain; _gainCount = 1;
            // v = SiLU(gate)·up in place of the gate half (c₁ = 1).
            int l = e._l;
            SetVector(e._gateUp, l, 2L * l);
            RunChannels(Phase.GluStats);
            for (int t = 0; t < n; t++)
                _factor[t] = 1;
            QuantizeVector(e._qB, e._kl, e._sxB, e._sumB);
        }

        /// <summary>
        /// The BitLinear quantizations of the current vector v·c₁ (c₁ in <see cref="_factor"/>,
        /// Σv² and max|v·γ| in the slots of the first phase): s_x, then q and Σq.
        /// </summary>
        private void QuantizeVector(sbyte* q, int qStride, float* sx, int* sums)
        {
            int n = _n;
            _q = q; _qStride = qStride; _sx = sx;
            for (int t = 0; t < n; t++)
            {
                float c1 = _factor[t];
                float rstd2 = ActivationQuantizer.Rstd(c1 * c1 * SumSlots(_squares, t), _length, ActivationQuantizer.NormEps);
                _factor[t] = c1 * rstd2;
                for (int g = 0; g < _gainCount; g++)
                {
                    int s = g * n + t;
                    float max = 0;
                    for (int b = 0; b < BlockCount; b++)
                        max = MathF.Max(max, _max[b * _rowsPerSlot + s]);
                    sx[s] = ActivationQuantizer.Scale(max * _factor[t]);
                }
            }
            RunChannels(Phase.Quantize);
            for (int s = 0; s < _gainCount * n; s++)
            {
                int sum = 0;
                for (int b = 0; b < BlockCount; b++)
                    sum += _qSum[b * _rowsPerSlot + s];
                sums[s] = sum;
                new Span<sbyte>(q + (long)s * qStride + _length, qStride - _length).Clear();
            }
        }

        private int BlockCount => (_length + Block - 1) / Block;

        private void SetVector(float* vector, int length, long stride)
        {
            _vector = vector; _length = length; _vectorStride = stride;
        }

        private float SumSlots(float[] slots, int token)
        {
            float sum = 0;
            for (int b = 0; b < BlockCount; b++)
                sum += slots[b * _rowsPerSlot + token];
            return sum;
        }

        private void RunChannels(Phase phase)
        {
            _phase = phase;
            // A token or a few: the fused passes take well under a µs, less than handing half to the
            // worker and waiting for it, so the caller runs them alone (the worker spins on between
            // the products). Many tokens are milliseconds of work, which a sleeping worker is woken to
            // share (at batch 64 the caller alone took 15 % of a token's time): one chunk per
            // thread, so the threads work on separate channel ranges and partial-result slots.
            if ((long)_n * _length < KernelTuning.MinParallelElements)
                Execute(0, _length);
            else
                e._pool.Run(this, _length, Block, chunksPerThread: 1);
        }

        public void Execute(int start, int end)
        {
            for (int j0 = start; j0 < end; j0 += Block)
                for (int t = 0; t < _n; t++)
                    ExecuteBlock(t, j0, Math.Min(end, j0 + Block));
        }

        private void ExecuteBlock(int t, int j0, int j1)
        {
            int width = j1 - j0, slotRow = j0 / Block * _rowsPerSlot;
            var v = new Span<float>(_vector + t * _vectorStride + j0, width);
            if (_phase == Phase.Quantize)
            {
                for (int g = 0; g < _gainCount; g++)
                {
                    int s = g * _n + t;
                    var q = new Span<sbyte>(_q + (long)s * _qStride + j0, width);
                    var gain = _gains[g].AsSpan(j0, width);
                    _qSum[slotRow + s] = _fused
                        ? FusedBlockKernels.Quantize(v, _factor[t], gain, _sx[s], q)
                        : ActivationQuantizer.QuantizeRange(v, _factor[t], gain, _sx[s], q, e.Simd);
                }
            }
            else if (_fused)
                FusedStats(t, j0, width, v, slotRow);
            else
                Stats(t, j0, width, v, slotRow);
        }

        /// <summary>
        /// The statistics phases in one pass each (<see cref="FusedBlockKernels"/>). Token t's
        /// partial results go to slotRow + t, its max|v·γ_g| to slotRow + g·n + t.
        /// </summary>
        private void FusedStats(int t, int j0, int width, Span<float> v, int slotRow)
        {
            int at = slotRow + t;
            switch (_phase)
            {
                case Phase.NormStats:
                {
                    Span<float> max = stackalloc float[3];
                    FusedBlockKernels.NormStats(new ReadOnlySpan<float>(e._x + (long)t * e._d + j0, width), _norm.AsSpan(j0, width), v,
                        _gains[0].AsSpan(j0, width), _gainCount > 1 ? _gains[1].AsSpan(j0, width) : default,
                        _gainCount > 2 ? _gains[2].AsSpan(j0, width) : default, _gainCount,
                        out _rawSquares[at], out _squares[at], max);
                    for (int g = 0; g < _gainCount; g++)
                        _max[slotRow + g * _n + t] = max[g];
                    break;
                }
                case Phase.MixerStats:
                {
                    var layer = _layer!;
                    long plane = (long)_n * e._m;
                    FusedBlockKernels.MixerStats(
                        new ReadOnlySpan<float>(e._ifg + (long)t * e._m + j0, width),
                        new ReadOnlySpan<float>(e._ifg + plane + (long)t * e._m + j0, width),
                        layer.LowerBound is { } lb ? lb.AsSpan(j0, width) : default,
                        e._rowStates[t].Layer(_layerIndex).Slice(j0, width), v, layer.GNorm.AsSpan(j0, width), _gains[0].AsSpan(j0, width),
                        out _rawSquares[at], out _squares[at], out _max[at]);
                    break;
                }
                case Phase.GluStats:
                    FusedBlockKernels.GluStats(v, new ReadOnlySpan<float>(_vector + t * _vectorStride + e._l + j0, width), _gains[0].AsSpan(j0, width),
                        out _squares[at], out _max[at]);
                    break;
            }
        }

        /// <summary>The statistics phases as separate passes of <see cref="MixerKernels"/> and <see cref="ActivationQuantizer"/> (no AVX-512, or no SIMD).</summary>
        private void Stats(int t, int j0, int width, Span<float> v, int slotRow)
        {
            bool simd = e.Simd;
            int at = slotRow + t;
            switch (_phase)
            {
                case Phase.NormStats:
                {
                    var x = new ReadOnlySpan<float>(e._x + (long)t * e._d + j0, width);
                    _rawSquares[at] = ActivationQuantizer.SumSquares(x, simd);
                    MixerKernels.Scale(x, 1, _norm.AsSpan(j0, width), v, simd);
                    break;
                }
                case Phase.MixerStats:
                {
                    // Tokens sharing a state run in time order: each channel's h is its own chain.
                    var layer = _layer!;
                    long plane = (long)_n * e._m;
                    var h = e._rowStates[t].Layer(_layerIndex).Slice(j0, width);
                    MixerKernels.Recurrence(
                        new ReadOnlySpan<float>(e._ifg + (long)t * e._m + j0, width),
                        new ReadOnlySpan<float>(e._ifg + plane + (long)t * e._m + j0, width),
                        layer.LowerBound is { } lb ? lb.AsSpan(j0, width) : default, h, simd);
                    _rawSquares[at] = ActivationQuantizer.SumSquares(v, simd);
                    MixerKernels.GateOutput(v, 1, layer.GNorm.AsSpan(j0, width), h, simd);
                    break;
                }
                case Phase.GluStats:
                    MixerKernels.Glu(v, new ReadOnlySpan<float>(_vector + t * _vectorStride + e._l + j0, width), simd);
                    break;
            }
            _squares[at] = ActivationQuantizer.SumSquares(v, simd);
            for (int g = 0; g < _gainCount; g++)
                _max[slotRow + g * _n + t] = ActivationQuantizer.MaxAbs(v, 1, _gains[g].AsSpan(j0, width), simd);
        }
    }
}
