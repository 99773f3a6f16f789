using System.Security.Cryptography;

namespace MatMulFree.Storage.Tests;

internal static class TestBytes
{
    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The weights of <see cref="ModelFolder"/>: 3 MiB, several blocks of every store.</summary>
    public static byte[] Weights(int seed) => Random(3 << 20, seed);

    /// <summary>A model folder of two files: config.json, then (in manifest order) model.safetensors.</summary>
    public static string ModelFolder(string path, int seed)
    {
        var folder = Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(folder.FullName, "config.json"), $"{{\"model_type\":\"hgrn_bit\",\"seed\":{seed}}}");
        File.WriteAllBytes(Path.Combine(folder.FullName, "model.safetensors"), Weights(seed));
        return folder.FullName;
    }

    /// <summary>A copy with one byte flipped: same length, so only the hash can tell.</summary>
    public static byte[] Tampered(byte[] bytes)
    {
        var copy = (byte[])bytes.Clone();
        copy[copy.Length / 2] ^= 0xFF;
        return copy;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
