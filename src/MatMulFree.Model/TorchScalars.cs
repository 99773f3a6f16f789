using TorchSharp;
using static TorchSharp.torch;

namespace MatMulFree.Model;

/// <summary>
/// The numbers our TorchSharp calls pass, as <see cref="Scalar"/>s that outlive the call, and the
/// few tensor operations that would otherwise make a Scalar of their own.
/// TorchSharp 0.107 turns every number given to a tensor method into a Scalar that nothing disposes
/// (<c>x + 1e-6</c>, <c>1 - f</c>, <c>value: 0.05</c>), and makes one itself inside <c>a + b</c>,
/// <c>add_(t)</c> and <c>square()</c> (the alpha 1 and the exponent 2). It hands the Scalar's handle
/// to native code after its last managed use, so a collection started by any other thread (the
/// other replica, an Orleans message) can finalize it while libtorch is still reading it: freed
/// memory, then "INTERNAL ASSERT FAILED at c10/core/Scalar.h" or worse. Constants here live as long
/// as the process and are shared by every thread (never dispose one); a number that varies is made
/// with <c>using var s = x.ToScalar()</c>, disposed only after the call that reads it has returned.
/// The training test that counts finalizations fails when a step leaves one behind.
/// </summary>
public static class TorchScalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();

    /// <summary><c>a + b</c>, with an alpha that outlives the call.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + b</c> for a scalar <paramref name="b"/> the caller keeps alive.</summary>
    public static Tensor Plus(this Tensor a, Scalar b) => a.add(b, One);

    /// <summary><c>a += b</c>, in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><c>1 − a</c>, computed as TorchSharp's <c>1 - a</c> is: −a + 1, one rounding.</summary>
    public static Tensor OneMinus(this Tensor a)
    {
        using var negated = a.negative();
        return negated.add(One, One);
    }

    /// <summary><c>a²</c> element-wise.</summary>
    public static Tensor Squared(this Tensor a) => a.pow(Two);
}
