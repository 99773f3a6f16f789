using System.Runtime.Intrinsics;
using MatMulFree.Engine.Kernels;

namespace MatMulFree.Engine.Tests;

public sealed class ElementwiseKernelTests
{
    private static float[] Random(Random rng, int n, float scale) =>
        Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();

    [Fact]
    public void ActivationQuantizer_Quantize_Vector256MatchesScalarForEveryLength()
    {
        var rng = new Random(4);
        for (int n = 1; n <= 300; n++)
        {
            var x = Random(rng, n, 3);
            var gamma = Random(rng, n, 1.5f);
            var qs = new sbyte[n + 7];
            var qv = new sbyte[n + 7];
            qv.AsSpan().Fill(99);
            float ss = ActivationQuantizer.QuantizeScalar(x, gamma, qs, out int sumS);
            float sv = ActivationQuantizer.QuantizeVector256(x, gamma, qv, out int sumV);
            Assert.True(Math.Abs(ss - sv) <= 1e-4 * ss, $"n={n}: scale {ss} vs {sv}");
            // Different summation orders may move a value across a rounding boundary: by one step, rarely.
            int differ = 0;
            for (int j = 0; j < qs.Length; j++)
            {
                Assert.True(Math.Abs(qs[j] - qv[j]) <= 1, $"n={n}, j={j}: {qs[j]} vs {qv[j]}");
                differ += qs[j] != qv[j] ? 1 : 0;
            }
            Assert.True(differ <= 1, $"n={n}: {differ} values differ");
            Assert.Equal(qv.Take(n).Sum(v => (int)v), sumV);
            Assert.Equal(qs.Take(n).Sum(v => (int)v), sumS);
            Assert.Equal(127, qs.Take(n).Max(v => Math.Abs((int)v)));
        }
    }

    [Fact]
    public void MixerKernels_RecurrenceAndGateOutput_Vector256MatchesScalar()
    {
        var rng = new Random(5);
        foreach (int n in new[] { 1, 7, 8, 64, 100, 257 })
            foreach (bool withBound in new[] { false, true })
            {
                var i = Random(rng, n, 4);
                var f = Random(rng, n, 4);
                var g = Random(rng, n, 2);
                var lb = withBound ? Random(rng, n, 0.5f).Select(Math.Abs).ToArray() : [];
                var gn = Random(rng, n, 1);
                var h = Random(rng, n, 1);
                var (g1, h1) = ((float[])g.Clone(), (float[])h.Clone());
                var (g2, h2) = ((float[])g.Clone(), (float[])h.Clone());
                MixerKernels.RecurrenceScalar(i, f, lb, h1);
                MixerKernels.RecurrenceVector256(i, f, lb, h2);
                MixerKernels.GateOutputScalar(g1, 0.7f, gn, h1);
                MixerKernels.GateOutputVector256(g2, 0.7f, gn, h2);
                for (int j = 0; j < n; j++)
                {
                    Assert.True(Math.Abs(h1[j] - h2[j]) <= 1e-5f * (1 + Math.Abs(h1[j])), $"h n={n} j={j}");
                    Assert.True(Math.Abs(g1[j] - g2[j]) <= 1e-5f * (1 + Math.Abs(g1[j])), $"o n={n} j={j}");
                }
            }
    }

    [Fact]
    public void ActivationQuantizer_Passes_SplitRangesCombineToTheWholeVector()
    {
        // The engine's channel split: Σx² and max over ranges, then QuantizeRange per range.
        var rng = new Random(8);
        foreach (int n in new[] { 1, 63, 64, 65, 200, 1000 })
        {
            var x = Random(rng, n, 3);
            var gamma = Random(rng, n, 1.5f);
            var whole = new sbyte[n];
            float sx = ActivationQuantizer.Quantize(x, gamma, whole, out int wholeSum);
            int cut = n / 3;
            float squares = ActivationQuantizer.SumSquares(x.AsSpan(0, cut)) + ActivationQuantizer.SumSquares(x.AsSpan(cut));
            Assert.True(Math.Abs(squares - ActivationQuantizer.SumSquaresScalar(x)) <= 1e-4f * squares, $"n={n}: Σx²");
            float rstd = ActivationQuantizer.Rstd(squares, n, ActivationQuantizer.NormEps);
            float max = MathF.Max(ActivationQuantizer.MaxAbs(x.AsSpan(0, cut), rstd, gamma.AsSpan(0, cut)),
                ActivationQuantizer.MaxAbsScalar(x.AsSpan(cut), rstd, gamma.AsSpan(cut)));
            float sx2 = ActivationQuantizer.Scale(max);
            Assert.True(Math.Abs(sx - sx2) <= 1e-4f * sx, $"n={n}: s_x {sx} vs {sx2}");
            var parts = new sbyte[n];
            int sum = ActivationQuantizer.QuantizeRange(x.AsSpan(0, cut), rstd, gamma.AsSpan(0, cut), sx2, parts.AsSpan(0, cut))
                + ActivationQuantizer.QuantizeRangeScalar(x.AsSpan(cut), rstd, gamma.AsSpan(cut), sx2, parts.AsSpan(cut));
            Assert.Equal(parts.Sum(q => (int)q), sum);
            Assert.True(parts.Zip(whole).Count(p => p.First != p.Second) <= 1, $"n={n}: more than one value differs");
        }
    }

    [Fact]
    public unsafe void Dequantizer_Apply_Vector256MatchesScalarInPlaceAndAdding()
    {
        var rng = new Random(10);
        foreach (int n in new[] { 1, 7, 8, 9, 100 })
            foreach (bool add in new[] { false, true })
            {
                var raw = Enumerable.Range(0, n).Select(_ => rng.Next(-40000, 40000)).ToArray();
                var residual = Random(rng, n, 3);
                var (a, b) = ((float[])residual.Clone(), (float[])residual.Clone());
                // In place, as the engine does for outputs that are not added: raw and output share memory.
                var (ra, rb) = ((int[])raw.Clone(), (int[])raw.Clone());
                fixed (int* pr = raw, pa = ra, pb = rb)
                fixed (float* oa = a, ob = b)
                {
                    Dequantizer.ApplyScalar(pr, oa, n, 123, 0.0371f, add);
                    Dequantizer.ApplyVector256(pr, ob, n, 123, 0.0371f, add);
                    Dequantizer.ApplyScalar(pa, (float*)pa, n, -5, 0.5f, false);
                    Dequantizer.ApplyVector256(pb, (float*)pb, n, -5, 0.5f, false);
                }
                Assert.Equal(a, b);
                Assert.Equal(ra, rb);
                Assert.Equal((raw[0] - 123) * 0.0371f + (add ? residual[0] : 0), a[0]);
            }
    }

    [Fact]
    public void MixerKernels_Scale_Vector256MatchesScalar()
    {
        var rng = new Random(9);
        foreach (int n in new[] { 1, 7, 8, 9, 100 })
        {
            var x = Random(rng, n, 4);
            var gamma = Random(rng, n, 2);
            var (a, b) = (new float[n], new float[n]);
            MixerKernels.Scale(x, 0.37f, gamma, a, simd: false);
            MixerKernels.Scale(x, 0.37f, gamma, b, simd: true);
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void MixerKernels_Glu_Vector256MatchesScalar()
    {
        var rng = new Random(6);
        foreach (int l in new[] { 1, 5, 8, 33, 256 })
        {
            var up = Random(rng, l, 5);
            var a = Random(rng, l, 5);
            var b = (float[])a.Clone();
            MixerKernels.GluScalar(a, up);
            MixerKernels.GluVector256(b, up);
            for (int j = 0; j < l; j++)
                Assert.True(Math.Abs(a[j] - b[j]) <= 1e-5f * (1 + Math.Abs(a[j])), $"l={l} j={j}");
        }
    }

    [Fact]
    public void MixerKernels_Exp_StaysWithinTwoUlpOfMathFExpAndSaturatesAtTheEnds()
    {
        // Every 1/64 from −87 to 88: the whole range the gates see before e^x leaves normal floats.
        for (float x0 = -87f; x0 < 88f; x0 += 8 / 64f)
        {
            var x = Vector256.Create(x0, x0 + 1 / 64f, x0 + 2 / 64f, x0 + 3 / 64f, x0 + 4 / 64f, x0 + 5 / 64f, x0 + 6 / 64f, x0 + 7 / 64f);
            var e = MixerKernels.Exp(x);
            for (int k = 0; k < 8; k++)
            {
                float expected = MathF.Exp(x[k]);
                Assert.True(Math.Abs(e[k] - expected) <= 2.5e-7f * expected, $"exp({x[k]}) = {e[k]}, MathF.Exp {expected}");
            }
        }
        var ends = MixerKernels.Exp(Vector256.Create(-1000f, -88f, 89f, 1000f, 0f, 1f, -1f, 0.5f));
        Assert.True(ends[0] > 0 && ends[0] < 1.3e-38f && ends[1] < 1.3e-38f, "below the range: tiny, positive");
        Assert.True(float.IsFinite(ends[3]) && ends[3] > 2e38f && ends[2] == ends[3], "above the range: the largest finite value it reaches");
        Assert.Equal(1f, ends[4]);
        Assert.Equal(MathF.E, ends[5], 2.5e-7f * MathF.E);
    }

    [Fact]
    public void WeightTernarizer_Pack_IsAbsmeanTernaryOfTheLatentWeights()
    {
        float[] w = [0.3f, -0.05f, -0.9f, 0.1f, 0.0f, 0.6f];
        // mean|W| = 1.95 / 6 = 0.325: s_w·W = 0.92, −0.15, −2.77, 0.31, 0, 1.85 → 1, 0, −1, 0, 0, 1.
        var packed = new byte[2 * Kernels.TernaryCodes.RowBytes(3)];
        float scale = WeightTernarizer.Pack(w, 2, 3, packed);
        Assert.Equal(0.325f, scale, 1e-6f);
        unsafe
        {
            fixed (byte* p = packed)
            {
                var m = new PackedTernaryMatrix(2, 3, scale, p);
                Assert.Equal(new[] { 1, 0, -1, 0, 0, 1 }, new[] { m.Trit(0, 0), m.Trit(0, 1), m.Trit(0, 2), m.Trit(1, 0), m.Trit(1, 1), m.Trit(1, 2) });
            }
        }
    }
}
