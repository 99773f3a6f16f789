namespace MatMulFree.Core.SafeTensors;

/// <summary>The element types of the safetensors format that this project reads or writes.</summary>
public enum TensorDType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool }

public static class TensorDTypes
{
    public static int ByteSize(this TensorDType type) => type switch
    {
        TensorDType.F64 or TensorDType.I64 => 8,
        TensorDType.F32 or TensorDType.I32 => 4,
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => 2,
        _ => 1,
    };

    public static string ToSafeTensorsName(this TensorDType type) => type == TensorDType.Bool ? "BOOL" : type.ToString();

    // Exact names only: Enum.TryParse would also take "1" (F16) and "F32, F16" (their bitwise or).
    public static bool TryParse(string name, out TensorDType type)
    {
        foreach (TensorDType candidate in Enum.GetValues<TensorDType>())
        {
            if (candidate.ToSafeTensorsName() == name)
            {
                type = candidate;
                return true;
            }
        }
        type = default;
        return false;
    }
}
