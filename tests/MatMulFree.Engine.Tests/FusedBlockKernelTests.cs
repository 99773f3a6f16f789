using MatMulFree.Engine.Kernels;

namespace MatMulFree.Engine.Tests;

/// <summary>
/// Each fused pass against the composition of scalar kernels it replaces, on lengths that are and
/// are not multiples of 16 (on machines without 512-bit vectors, against their software fallback).
/// </summary>
public sealed class FusedBlockKernelTests
{
    private static readonly int[] Lengths = [1, 15, 16, 17, 100, 256];

    private static float[] Random(Random rng, int n, float scale) =>
        Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();

    private static void Close(float expected, float actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5f * (1 + Math.Abs(expected)), $"{what}: {actual} vs {expected}");

    private static void Close(float[] expected, float[] actual, string what)
    {
        for (int j = 0; j < expected.Length; j++)
            Close(expected[j], actual[j], $"{what}[{j}]");
    }

    [Fact]
    public void FusedBlockKernels_NormStats_MatchesScalarPasses()
    {
        var rng = new Random(11);
        foreach (int n in Lengths)
            for (int gains = 1; gains <= 3; gains++)
            {
                var (x, norm) = (Random(rng, n, 3), Random(rng, n, 2));
                var g = Enumerable.Range(0, 3).Select(_ => Random(rng, n, 1.5f)).ToArray();
                var expectedV = new float[n];
                MixerKernels.Scale(x, 1, norm, expectedV, simd: false);
                var v = new float[n];
                var max = new float[3];
                FusedBlockKernels.NormStats(x, norm, v, g[0], gains > 1 ? g[1] : default, gains > 2 ? g[2] : default, gains, out float raw, out float sq, max);
                Assert.Equal(expectedV, v);
                Close(ActivationQuantizer.SumSquaresScalar(x), raw, $"n={n} Σx²");
                Close(ActivationQuantizer.SumSquaresScalar(expectedV), sq, $"n={n} Σv²");
                for (int k = 0; k < gains; k++)
                    Assert.Equal(ActivationQuantizer.MaxAbsScalar(expectedV, 1, g[k]), max[k]);
            }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FusedBlockKernels_MixerStats_MatchesScalarPasses(bool lowerBound)
    {
        var rng = new Random(12);
        foreach (int n in Lengths)
        {
            var (i, f, gNorm, gamma) = (Random(rng, n, 4), Random(rng, n, 4), Random(rng, n, 2), Random(rng, n, 1.5f));
            var lb = lowerBound ? Random(rng, n, 0.5f).Select(Math.Abs).ToArray() : [];
            var (h0, g0) = (Random(rng, n, 1), Random(rng, n, 3));
            var (hExpected, vExpected) = ((float[])h0.Clone(), (float[])g0.Clone());
            MixerKernels.RecurrenceScalar(i, f, lb, hExpected);
            float rawExpected = ActivationQuantizer.SumSquaresScalar(vExpected);
            MixerKernels.GateOutputScalar(vExpected, 1, gNorm, hExpected);

            var (h, v) = ((float[])h0.Clone(), (float[])g0.Clone());
            FusedBlockKernels.MixerStats(i, f, lb, h, v, gNorm, gamma, out float raw, out float sq, out float max);
            Close(hExpected, h, $"n={n} h");
            Close(vExpected, v, $"n={n} v");
            Close(rawExpected, raw, $"n={n} Σg²");
            Close(ActivationQuantizer.SumSquaresScalar(vExpected), sq, $"n={n} Σv²");
            Close(ActivationQuantizer.MaxAbsScalar(vExpected, 1, gamma), max, $"n={n} max");
        }
    }

    [Fact]
    public void FusedBlockKernels_GluStats_MatchesScalarPasses()
    {
        var rng = new Random(13);
        foreach (int n in Lengths)
        {
            var (up, gamma, gate) = (Random(rng, n, 3), Random(rng, n, 1.5f), Random(rng, n, 5));
            var expected = (float[])gate.Clone();
            MixerKernels.GluScalar(expected, up);
            FusedBlockKernels.GluStats(gate, up, gamma, out float sq, out float max);
            Close(expected, gate, $"n={n} v");
            Close(ActivationQuantizer.SumSquaresScalar(expected), sq, $"n={n} Σv²");
            Close(ActivationQuantizer.MaxAbsScalar(expected, 1, gamma), max, $"n={n} max");
        }
    }

    [Fact]
    public void FusedBlockKernels_Quantize_EqualsScalarQuantizationBitForBit()
    {
        var rng = new Random(14);
        foreach (int n in Lengths.Append(300))
        {
            var (v, gamma) = (Random(rng, n, 3), Random(rng, n, 1.5f));
            var (expected, actual) = (new sbyte[n], new sbyte[n]);
            // Large enough that some values clamp at −128 and 127.
            int sumExpected = ActivationQuantizer.QuantizeRangeScalar(v, 0.9f, gamma, 60f, expected);
            int sum = FusedBlockKernels.Quantize(v, 0.9f, gamma, 60f, actual);
            Assert.Equal(expected, actual);
            Assert.Equal(sumExpected, sum);
        }
    }
}
