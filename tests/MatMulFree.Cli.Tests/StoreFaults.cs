namespace MatMulFree.Cli.Tests;

/// <summary>Damage done to a local folder store behind its back, as a failing disk or a hostile writer would.</summary>
internal static class StoreFaults
{
    /// <summary>Same length, one byte different: only the SHA-256 check can tell.</summary>
    public static byte[] FlipOneByte(string file)
    {
        byte[] original = File.ReadAllBytes(file);
        byte[] changed = (byte[])original.Clone();
        changed[changed.Length / 2] ^= 0xFF;
        File.WriteAllBytes(file, changed);
        return original;
    }
}
