using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MatMulFree.Engine.Kernels;

/// <summary>
/// AVX-VNNI: <c>vpdpbusd</c> multiplies 32 unsigned codes by 32 signed activations and adds
/// groups of four straight into 32-bit lanes: one instruction per 32 weights, no widening step.
/// (Not run on the development machine, which has AVX-512 VNNI but not the VEX encoding; the walk
/// over the blocks is <see cref="Avx2TernaryKernel"/>'s, tested there.)
/// </summary>
public sealed class AvxVnniTernaryKernel : Tiled256TernaryKernel<AvxVnniTernaryKernel.Dot, Vector256<int>>
{
    public static bool IsSupported => AvxVnni.IsSupported;

    public override string Name => "avxvnni";

    public struct Dot : IDot256<Vector256<int>>
    {
        /// <summary>int32 lanes do not overflow at any row length here: never flushed.</summary>
        public static int FlushBlocks => int.MaxValue;

        public static Vector256<int> Zero => Vector256<int>.Zero;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Add(Vector256<int> acc, Vector256<byte> codes, Vector256<sbyte> acts) =>
            AvxVnni.MultiplyWideningAndAdd(acc, codes, acts);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Widen(Vector256<int> acc) => acc;
    }
}
