namespace MatMulFree.Core.SafeTensors;

/// <summary>Named tensors from one file or a sharded checkpoint, read the same way.</summary>
public interface ITensorSource
{
    IEnumerable<string> Names { get; }

    bool Contains(string name);

    /// <exception cref="SafeTensorsException">No tensor of that name.</exception>
    TensorEntry Entry(string name);

    /// <summary>F32, F16 or BF16 data as float; the shape is checked when one is given.</summary>
    float[] ReadFloat32(string name, params long[] expectedShape);
}
