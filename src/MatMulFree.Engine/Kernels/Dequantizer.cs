using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// The last step of BitLinear: y = (Σ − Σq) · (1/s_w) / s_x from a product's integer sums, written
/// or added to a residual. Raw and output may be the same memory (each element is read before it
/// is written).
/// </summary>
public static unsafe class Dequantizer
{
    public static void Apply(int* raw, float* output, int count, int qSum, float factor, bool add, bool simd = true)
    {
        if (simd && Vector256.IsHardwareAccelerated)
            ApplyVector256(raw, output, count, qSum, factor, add);
        else
            ApplyScalar(raw, output, count, qSum, factor, add);
    }

    public static void ApplyScalar(int* raw, float* output, int count, int qSum, float factor, bool add)
    {
        for (int r = 0; r < count; r++)
            output[r] = (add ? output[r] : 0) + (raw[r] - qSum) * factor;
    }

    // At batch 64 this touches ≈ 290 K outputs per token: a scalar loop showed in the profile.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ApplyVector256(int* raw, float* output, int count, int qSum, float factor, bool add)
    {
        int w = Vector256<int>.Count, full = count - count % w;
        var q = Vector256.Create(qSum);
        var f = Vector256.Create(factor);
        for (int r = 0; r < full; r += w)
        {
            var y = Vector256.ConvertToSingle(Vector256.Load(raw + r) - q) * f;
            (add ? Vector256.Load(output + r) + y : y).Store(output + r);
        }
        ApplyScalar(raw + full, output + full, count - full, qSum, factor, add);
    }
}
