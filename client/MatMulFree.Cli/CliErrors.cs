using MatMulFree.Core;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli;

/// <summary>
/// Turns exceptions into the CLI's exit codes: bad input (flags, files, configs) is the user's to
/// fix and gets one clear line; anything else is a bug and keeps its stack trace.
/// </summary>
internal static class CliErrors
{
    public const int BadInput = 2;
    public const int Failure = 1;

    public static int Report(Exception exception, ITypeResolver? resolver)
    {
        switch (exception)
        {
            case CommandAppException or MatMulFreeException or FileNotFoundException or DirectoryNotFoundException:
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {exception.Message}");
                return BadInput;
            case OperationCanceledException:
                AnsiConsole.MarkupLine("[yellow]cancelled[/]");
                return 130;
            default:
                AnsiConsole.WriteException(exception, ExceptionFormats.ShortenPaths);
                return Failure;
        }
    }
}
