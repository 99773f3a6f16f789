using System.Security.Cryptography;
using TorchSharp.Modules;

namespace MatMulFree.Training;

/// <summary>
/// SHA-256 of every parameter's fp32 bytes, in parameter order: replicas that hold bit-identical
/// weights have equal hashes, so comparing one short string per worker after each step proves
/// the all-reduce kept them in lockstep.
/// </summary>
public static class ParameterHash
{
    public static string Of(IEnumerable<(string Name, Parameter Parameter)> parameters)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, parameter) in parameters)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            using var detached = parameter.detach();
            using var values = detached.contiguous();
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.data<float>().ToArray().AsSpan()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
