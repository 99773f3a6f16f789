using Spectre.Console;

namespace MatMulFree.Cli;

/// <summary>
/// The width output is laid out for. Spectre asks the terminal; when stdout is a file or a pipe
/// there is no terminal, and it assumed 80 columns, breaking session ids and table rows over
/// several lines where a script reads them. Redirected output is therefore not wrapped, unless
/// <c>COLUMNS</c> asks for a width; on a terminal Spectre's own reading of its width stands.
/// </summary>
internal static class ConsoleWidth
{
    /// <summary>Wide enough that no row of ours wraps; Spectre lays tables out to their content, not to this.</summary>
    public const int Unwrapped = 4096;

    public static void Apply(Profile profile)
    {
        if (!Console.IsOutputRedirected)
            return;
        profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out int columns) && columns > 0 ? columns : Unwrapped;
    }
}
