using MatMulFree.Engine.Benchmarks;
using MatMulFree.Engine.Kernels;
using MatMulFree.Engine.Threading;

namespace MatMulFree.Engine;

/// <summary>
/// Runs a model in serving form: prefill (T tokens of one session: every projection one
/// matrix–matrix product over the T tokens, then the recurrence token by token), decode (one
/// token), and batched decode of N independent sessions (N states × 1 token → N logit rows; the
/// weights are read once per step). The engine owns scratch buffers and two worker threads;
/// calls are serialized by a lock, the per-session <see cref="RecurrentState"/> is the caller's.
/// </summary>
public sealed unsafe partial class InferenceEngine : IDisposable
{
    private readonly object _lock = new();
    private readonly WorkerPool _pool;
    private readonly ProductJob _product;
    private readonly ElementwiseJob _rows;
    private readonly RecurrentState[] _rowStates;
    private readonly PinnedArena _arena = new();
    private readonly int _d, _m, _l, _v, _kd, _km, _kl;
    private readonly float* _x, _xn, _ifg, _gateUp, _tmp, _sxA, _sxB;
    private readonly sbyte* _qA, _qB;
    private readonly int* _sumA, _sumB;

    /// <param name="kernel">Null: <see cref="TernaryKernelFactory.Create()"/> (honours MMF_KERNEL).</param>
    /// <param name="threads">0: min(2, processors) — the weights stream from memory, more threads than channels do not help here.</param>
    /// <param name="maxRows">Tokens per forward pass: batched sessions per step, or the prefill chunk.</param>
    /// <param name="lookupTables">Run passes of at least <see cref="LookupTableMinTokens"/> tokens with
    /// <see cref="LutTernaryKernel"/> (AVX-512BW only; the same sums, 1.4× faster at batch 64 here).
    /// Each matrix then also keeps a group index of 2.67 bits per weight, built on the first such
    /// pass: +114 MB for the 370M shape. Batch-1 use never builds it.</param>
    public InferenceEngine(EngineModel model, TernaryKernel? kernel = null, int threads = 0, int maxRows = 64, bool lookupTables = true)
    {
        if (maxRows < 1)
            throw new EngineException($"maxRows must be at least 1, got {maxRows}");
        Model = model;
        Kernel = kernel ?? TernaryKernelFactory.Create();
        Simd = Kernel is not ScalarTernaryKernel;
        MaxRows = maxRows;
        _pool = new WorkerPool(threads > 0 ? threads : Math.Min(2, Environment.ProcessorCount));
        LookupTables = lookupTables && Kernel is not ScalarTernaryKernel && LutTernaryKernel.IsSupported;
        _rowStates = new RecurrentState[maxRows];

        var c = model.Config;
        _d = c.HiddenSize; _m = c.MixerWidth; _l = c.IntermediateSize; _v = c.VocabSize;
        _kd = TernaryCodes.PaddedLength(_d); _km = TernaryCodes.PaddedLength(_m); _kl = TernaryCodes.PaddedLength(_l);
        long n = maxRows;
        _x = Floats(n * _d);
        _xn = Floats(n * Math.Max(_d, _m));
        _ifg = Floats(3 * n * _m);
        _gateUp = Floats(n * 2 * _l);
        _tmp = Floats(n * _d);
        _sxA = Floats(3 * n);
        _sxB = Floats(n);
        _qA = (sbyte*)_arena.Allocate(3 * n * _kd);
        _qB = (sbyte*)_arena.Allocate(n * Math.Max(_km, _kl));
        _sumA = (int*)_arena.Allocate(3 * n * sizeof(int));
        _sumB = (int*)_arena.Allocate(n * sizeof(int));
        // The largest set of tables one product needs: three over d columns (i/f/g), or one over m or l.
        long tables = LookupTables
            ? n * Math.Max(3 * LutTernaryKernel.TableBytes(_d), Math.Max(LutTernaryKernel.TableBytes(_m), LutTernaryKernel.TableBytes(_l)))
            : 0;
        _product = new ProductJob(Kernel, (short*)_arena.Allocate(tables), Simd);
        _rows = new ElementwiseJob(this);
    }

    public EngineModel Model { get; }
    public TernaryKernel Kernel { get; }
    public bool Simd { get; }
    public int MaxRows { get; }
    public int Threads => _pool.ThreadCount;

    /// <summary>Whether passes of many tokens use <see cref="LutTernaryKernel"/>.</summary>
    public bool LookupTables { get; }

    /// <summary>Fewer tokens do not pay for building their tables (27 sums per 3 activations).</summary>
    public const int LookupTableMinTokens = 16;

    /// <summary>Bench only: when set, every forward pass charges its stages' CPU time to it.</summary>
    public StageProfile? Profile { get; set; }

    public RecurrentState CreateState() => new(Model.Identity, Model.Config.NumHiddenLayers, _m);

    /// <summary>Absorbs a prompt into <paramref name="state"/>; writes the logits after its last token.</summary>
    public void Prefill(RecurrentState state, ReadOnlySpan<int> tokens, Span<float> lastLogits)
    {
        if (tokens.IsEmpty)
            throw new EngineException("prefill needs at least one token");
        RequireLength(lastLogits, _v, "lastLogits");
        lock (_lock)
        {
            for (int start = 0; start < tokens.Length; start += MaxRows)
            {
                int n = Math.Min(MaxRows, tokens.Length - start);
                bool last = start + n == tokens.Length;
                PrepareSingle(state, n);
                Forward(tokens.Slice(start, n), logitsFrom: last ? n - 1 : n, lastLogits);
            }
        }
    }

    /// <summary>Like <see cref="Prefill"/>, but writes the logits after every token ([T, V]): for scoring and tests.</summary>
    public void PrefillAllLogits(RecurrentState state, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        RequireLength(logits, (long)tokens.Length * _v, "logits");
        lock (_lock)
        {
            for (int start = 0; start < tokens.Length; start += MaxRows)
            {
                int n = Math.Min(MaxRows, tokens.Length - start);
                PrepareSingle(state, n);
                Forward(tokens.Slice(start, n), logitsFrom: 0, logits.Slice(start * _v, n * _v));
            }
        }
    }

    public void Decode(RecurrentState state, int token, Span<float> logits) => Prefill(state, [token], logits);

    /// <summary>One token for each of N distinct sessions; row i of <paramref name="logits"/> ([N, V]) belongs to session i.</summary>
    public void DecodeBatch(ReadOnlySpan<RecurrentState> states, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        if (states.Length != tokens.Length)
            throw new EngineException($"decode batch: {states.Length} states but {tokens.Length} tokens");
        RequireLength(logits, (long)tokens.Length * _v, "logits");
        lock (_lock)
        {
            for (int start = 0; start < tokens.Length; start += MaxRows)
            {
                int n = Math.Min(MaxRows, tokens.Length - start);
                for (int i = 0; i < n; i++)
                {
                    var s = states[start + i];
                    Check(s);
                    for (int k = 0; k < i; k++)
                        if (ReferenceEquals(_rowStates[k], s))
                            throw new EngineException($"decode batch: session {start + i} repeats the state of session {start + k}");
                    _rowStates[i] = s;
                }
                Forward(tokens.Slice(start, n), logitsFrom: 0, logits.Slice(start * _v, n * _v));
            }
        }
        Array.Clear(_rowStates);
    }

    private void PrepareSingle(RecurrentState state, int n)
    {
        Check(state);
        for (int i = 0; i < n; i++)
            _rowStates[i] = state;
    }

    private void Check(RecurrentState state)
    {
        if (state.ModelIdentity != Model.Identity || state.Width != _m || state.Layers != Model.Config.NumHiddenLayers)
            throw new EngineException($"the state belongs to model {state.ModelIdentity:x16}, not to the loaded model {Model.IdentityHex}");
    }

    private static void RequireLength(Span<float> span, long needed, string name)
    {
        if (span.Length < needed)
            throw new EngineException($"{name} holds {span.Length} floats, {needed} are needed");
    }

    /// <summary>
    /// One pass of n rows through the model. Rows sharing a state (prefill) must be in time order
    /// and run the recurrence sequentially; distinct states (batched decode) run it in parallel.
    /// Logits are computed only for rows [logitsFrom, n).
    /// </summary>
    private void Forward(ReadOnlySpan<int> tokens, int logitsFrom, Span<float> logits)
    {
        int n = tokens.Length, d = _d, m = _m;
        var config = Model.Config;
        var profile = Profile;
        profile?.Restart();
        for (int t = 0; t < n; t++)
        {
            int id = tokens[t];
            if ((uint)id >= (uint)_v)
                throw new EngineException($"token id {id} is outside the vocabulary [0, {_v})");
            Model.Embed(id, new Span<float>(_x + (long)t * d, d));
        }
        profile?.Mark(EngineStage.Embedding);

        var layers = Model.Layers;
        for (int li = 0; li < layers.Count; li++)
        {
            var layer = layers[li];
            // Token mixer: x̂ = RMSNorm(x; attn_norm), then the three BitLinear quantizations of x̂.
            _rows.NormQuantize(n, layer.AttnNorm, config.RmsNormEps, layer.I.NormGain, layer.F.NormGain, layer.G.NormGain);
            profile?.Mark(EngineStage.NormQuantize);
            _product.Begin(n, UseLookupTables(n));
            _product.Add(layer.I.Weight, _qA, _sumA, _sxA, (int*)_ifg, _ifg, false);
            _product.Add(layer.F.Weight, _qA + (long)n * _kd, _sumA + n, _sxA + n, (int*)(_ifg + (long)n * m), _ifg + (long)n * m, false);
            _product.Add(layer.G.Weight, _qA + 2L * n * _kd, _sumA + 2 * n, _sxA + 2 * n, (int*)(_ifg + 2L * n * m), _ifg + 2L * n * m, false);
            RunProduct();
            profile?.Mark(EngineStage.IfgProduct);

            _rows.Mixer(n, li, layer, config.RmsNormEps);
            profile?.Mark(EngineStage.Recurrence);
            _product.Begin(n, UseLookupTables(n));
            _product.Add(layer.O.Weight, _qB, _sumB, _sxB, (int*)_tmp, _x, true);
            RunProduct();
            profile?.Mark(EngineStage.OProduct);

            // Channel mixer: GLU over RMSNorm(x; mlp_norm).
            _rows.NormQuantize(n, layer.MlpNorm, config.RmsNormEps, layer.GateUp.NormGain);
            profile?.Mark(EngineStage.NormQuantize);
            _product.Begin(n, UseLookupTables(n));
            _product.Add(layer.GateUp.Weight, _qA, _sumA, _sxA, (int*)_gateUp, _gateUp, false);
            RunProduct();
            profile?.Mark(EngineStage.GateUpProduct);

            _rows.Glu(n, layer.Down.NormGain);
            profile?.Mark(EngineStage.Glu);
            _product.Begin(n, UseLookupTables(n));
            _product.Add(layer.Down.Weight, _qB, _sumB, _sxB, (int*)_tmp, _x, true);
            RunProduct();
            profile?.Mark(EngineStage.DownProduct);
        }

        for (int t = 0; t < n; t++)
            _rowStates[t].Tokens++;
        if (logitsFrom >= n)
            return;
        int k = n - logitsFrom;
        _rows.NormQuantize(n, Model.FinalNorm, config.RmsNormEps, Model.LmHead.NormGain);
        profile?.Mark(EngineStage.NormQuantize);
        fixed (float* output = logits)
        {
            _product.Begin(k, UseLookupTables(k));
            _product.Add(Model.LmHead.Weight, _qA + (long)logitsFrom * _kd, _sumA + logitsFrom, _sxA + logitsFrom, (int*)output, output, false);
            RunProduct();
        }
        profile?.Mark(EngineStage.LmHead);
    }

    private bool UseLookupTables(int tokens) => LookupTables && tokens >= LookupTableMinTokens;

    private void RunProduct()
    {
        if (_product.UsesLookupTables)
            // One run of whole 4-token tiles per thread: each run reads the matrices' whole index once.
            _pool.Run(_product, _product.TotalUnits, granularity: LutTernaryKernel.TokenTile, chunksPerThread: 1);
        else if (_product.Work < KernelTuning.MinParallelWork)
            _product.Execute(0, _product.TotalUnits);
        else
            // Two runs of rows per thread: each thread streams long stretches of the matrix. At 8
            // (16 KiB runs of a 1,024-row matrix, every other one) the prefetchers restarted at each
            // jump, and the 256 KiB o_proj ran no faster on two threads than on one.
            _pool.Run(_product, _product.TotalUnits, KernelTuning.RowTile, chunksPerThread: 2);
    }

    private float* Floats(long count) => (float*)_arena.Allocate(count * sizeof(float));

    public void Dispose()
    {
        _pool.Dispose();
        _arena.Dispose();
    }
}
