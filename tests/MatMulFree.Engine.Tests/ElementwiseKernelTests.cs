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
    public void MixerKernels_MlgruStep_Vector256MatchesScalar()
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
                MixerKernels.MlgruStepScalar(i, f, g1, lb, h1, gn, 1e-6f);
                MixerKernels.MlgruStepVector256(i, f, g2, lb, h2, gn, 1e-6f);
                for (int j = 0; j < n; j++)
                {
                    Assert.True(Math.Abs(h1[j] - h2[j]) <= 1e-5f * (1 + Math.Abs(h1[j])), $"h n={n} j={j}");
                    Assert.True(Math.Abs(g1[j] - g2[j]) <= 1e-5f * (1 + Math.Abs(g1[j])), $"o n={n} j={j}");
                }
            }
    }

    [Fact]
    public void MixerKernels_GluInPlace_Vector256MatchesScalar()
    {
        var rng = new Random(6);
        foreach (int l in new[] { 1, 5, 8, 33, 256 })
        {
            var a = Random(rng, 2 * l, 5);
            var b = (float[])a.Clone();
            MixerKernels.GluInPlaceScalar(a);
            MixerKernels.GluInPlaceVector256(b);
            for (int j = 0; j < l; j++)
                Assert.True(Math.Abs(a[j] - b[j]) <= 1e-5f * (1 + Math.Abs(a[j])), $"l={l} j={j}");
        }
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
