#nullable enable
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Sets VER_FLG_WEAK on one version requirement (a Vernaux entry of .gnu.version_r) of an
/// x86-64 ELF shared library, when the system's libstdc++ does not define that version.
/// A weak version requirement is reported by the loader instead of failing the load.
/// </summary>
public sealed class PatchWeakElfVersion : Task
{
    private const ushort VerFlagWeak = 0x2;
    private const uint ShtGnuVerneed = 0x6ffffffe;

    private static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    [Required] public string LibraryPath { get; set; } = "";
    [Required] public string VersionName { get; set; } = "";
    [Output] public bool Patched { get; set; }

    public override bool Execute()
    {
        if (SystemLibStdCxxHas(VersionName))
        {
            Log.LogMessage(MessageImportance.Low, $"System libstdc++ defines {VersionName}; {LibraryPath} left as shipped.");
            return true;
        }

        byte[] elf = File.ReadAllBytes(LibraryPath);
        string? error = TrySetWeak(elf, VersionName, out bool changed);
        if (error != null)
        {
            Log.LogError($"Cannot patch {LibraryPath}: {error}");
            return false;
        }

        if (changed)
        {
            File.WriteAllBytes(LibraryPath, elf);
            Log.LogMessage(MessageImportance.High, $"Marked {VersionName} weak in {LibraryPath} (system libstdc++ lacks it).");
        }
        Patched = true;
        return true;
    }

    private static bool SystemLibStdCxxHas(string version)
    {
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (string path in LibStdCxxCandidates)
        {
            if (File.Exists(path))
                return Contains(File.ReadAllBytes(path), needle);
        }
        // No libstdc++ found where Debian/Fedora keep it: patching is harmless, loading decides.
        return false;
    }

    // The task compiles against netstandard2.0 (no span search), hence the plain loop.
    private static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    private static string? TrySetWeak(byte[] elf, string version, out bool changed)
    {
        changed = false;
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            return "not an ELF file";
        if (elf[4] != 2 || elf[5] != 1)
            return "not a 64-bit little-endian ELF file";

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);

        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed)
                continue;

            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            int link = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int strtab = checked((int)BitConverter.ToUInt64(elf, checked((int)shoff + link * shentsize) + 0x18));

            for (int vn = offset; ; )
            {
                int count = BitConverter.ToUInt16(elf, vn + 2);
                int aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
                for (int a = 0; a < count; a++)
                {
                    string name = ReadCString(elf, strtab + (int)BitConverter.ToUInt32(elf, aux + 8));
                    if (name == version)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlagWeak) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlagWeak)).CopyTo(elf, aux + 4);
                            changed = true;
                        }
                        return null;
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                uint next = BitConverter.ToUInt32(elf, vn + 12);
                if (next == 0) break;
                vn += (int)next;
            }
            return null; // The library does not ask for this version: nothing to do.
        }
        return "no .gnu.version_r section";
    }

    private static string ReadCString(byte[] data, int start)
    {
        int end = Array.IndexOf(data, (byte)0, start);
        return Encoding.ASCII.GetString(data, start, end - start);
    }
}
