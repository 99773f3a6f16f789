using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// AVX2: <c>vpmaddubsw</c> on 32 codes at a time into 16-bit lanes, widened every
/// <see cref="KernelTuning.Avx2FlushBlocks"/> blocks by <c>vpmaddwd</c>.
/// </summary>
public sealed class Avx2TernaryKernel : Tiled256TernaryKernel<Avx2TernaryKernel.Dot, Vector256<short>>
{
    public static bool IsSupported => Avx2.IsSupported;

    public override string Name => "avx2";

    public struct Dot : IDot256<Vector256<short>>
    {
        public static int FlushBlocks => KernelTuning.Avx2FlushBlocks;

        public static Vector256<short> Zero => Vector256<short>.Zero;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Add(Vector256<short> acc, Vector256<byte> codes, Vector256<sbyte> acts) =>
            acc + Avx2.MultiplyAddAdjacent(codes, acts);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Widen(Vector256<short> acc) => Avx2.MultiplyAddAdjacent(acc, Vector256.Create((short)1));
    }
}
