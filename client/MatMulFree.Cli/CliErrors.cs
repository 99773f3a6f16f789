using System.Text.RegularExpressions;
using MatMulFree.Core;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli;

/// <summary>
/// Turns exceptions into the CLI's exit codes: bad input (flags, files, configs) is the user's to
/// fix and gets one clear line; anything else is a bug and keeps its stack trace.
/// </summary>
internal static partial class CliErrors
{
    public const int BadInput = 2;
    public const int Failure = 1;

    public static int Report(Exception exception, ITypeResolver? resolver, IReadOnlyList<string> args)
    {
        // An unknown flag is the first mistake even when the settings' validation failed before it was looked at.
        if (exception is CommandRuntimeException && resolver?.Resolve(typeof(IRemainingArguments)) is IRemainingArguments { Parsed.Count: > 0 } remaining)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {UnknownFlagInterceptor.Message(remaining.Parsed.First().Key, args)}");
            return BadInput;
        }
        switch (exception)
        {
            case CommandAppException or MatMulFreeException or FileNotFoundException or DirectoryNotFoundException:
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {Describe(exception, args)}");
                return BadInput;
            case OperationCanceledException:
                AnsiConsole.MarkupLine("[yellow]cancelled[/]");
                return 130;
            default:
                AnsiConsole.WriteException(exception, ExceptionFormats.ShortenPaths);
                return Failure;
        }
    }

    /// <summary>
    /// The message, with the flag named where Spectre's does not: its conversion failure says only
    /// "Failed to convert 'abc' to Int32", which on a command of ten numeric flags leaves the user guessing.
    /// </summary>
    private static string Describe(Exception exception, IReadOnlyList<string> args)
    {
        if (exception is not CommandRuntimeException || ConversionFailure().Match(exception.Message) is not { Success: true } m)
            return exception.Message;
        string value = m.Groups["value"].Value, type = m.Groups["type"].Value;
        string what = type switch
        {
            "Int32" or "Int64" => "a whole number",
            "UInt64" or "UInt32" => "a whole number ≥ 0",
            "Single" or "Double" => "a number",
            _ => $"a {type}",
        };
        return FlagOf(value, args) is { } flag
            ? $"{flag} must be {what}, got '{value}'"
            : $"'{value}' is not {what}";
    }

    /// <summary>The flag that <paramref name="value"/> was given to: <c>--flag value</c> or <c>--flag=value</c>.</summary>
    private static string? FlagOf(string value, IReadOnlyList<string> args)
    {
        for (int i = 0; i < args.Count; i++)
        {
            if (i + 1 < args.Count && args[i].StartsWith('-') && args[i + 1] == value)
                return args[i];
            if (args[i].StartsWith('-') && args[i].IndexOfAny(['=', ':']) is > 0 and var at && args[i][(at + 1)..] == value)
                return args[i][..at];
        }
        return null;
    }

    [GeneratedRegex(@"^Failed to convert '(?<value>.*)' to (?<type>\w+)\.?$", RegexOptions.Singleline)]
    private static partial Regex ConversionFailure();
}
