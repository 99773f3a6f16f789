using System.Reflection;
using MatMulFree.Core;
using Spectre.Console.Cli;

namespace MatMulFree.Cli;

/// <summary>
/// Refuses flags the command does not declare, naming the closest one it does. Spectre's parser
/// sets unknown flags aside (<see cref="IRemainingArguments"/>) instead of failing, so a typo such
/// as <c>serve --apikey K</c> would otherwise start an open server without a word. Its strict mode
/// fails while parsing, before the command is known, and so cannot say which flag was meant.
/// </summary>
internal sealed class UnknownFlagInterceptor : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        if (context.Remaining.Parsed.FirstOrDefault() is not { } unknown)
            return;
        var words = context.Arguments.TakeWhile(a => !a.StartsWith('-')).ToList();
        string command = string.Join(' ', ["mmf", .. words.Take(words.IndexOf(context.Name) + 1)]);
        throw new MatMulFreeException(Message(unknown.Key, DeclaredFlags(settings.GetType()), command));
    }

    /// <summary>
    /// The message for <paramref name="unknown"/> when the command's own validation failed first
    /// (Spectre validates the settings before any interceptor runs: <c>pull URI --ot DIR</c> would
    /// otherwise say "--out is required"). The command is not known there; the flags it may have
    /// are those of every settings type that declares all the other flags given.
    /// </summary>
    public static string Message(string unknown, IReadOnlyList<string> args)
    {
        var given = args.Where(a => a.StartsWith('-')).Select(a => a.Split('=', ':')[0]).Where(a => a != Dashed(unknown)).ToHashSet();
        var declared = typeof(UnknownFlagInterceptor).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(CommandSettings)))
            .Select(DeclaredFlags)
            .Where(flags => given.IsSubsetOf(flags))
            .SelectMany(flags => flags)
            .Distinct()
            .ToList();
        return Message(unknown, declared, command: null);
    }

    private static string Message(string unknown, IReadOnlyList<string> declared, string? command)
    {
        string flag = Dashed(unknown);
        string where = command is null ? "" : $" for `{command}`";
        return NearestName.Closest(flag, declared) is { } closest
            ? $"unknown flag {flag}{where}; did you mean {closest}?"
            : $"unknown flag {flag}{where} (see `{command ?? "mmf COMMAND"} --help`)";
    }

    private static string Dashed(string flag) => flag.StartsWith('-') ? flag : $"--{flag}";

    /// <summary>The long and short names of every [CommandOption] of <paramref name="settings"/> and its bases, with dashes.</summary>
    public static IReadOnlyList<string> DeclaredFlags(Type settings) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .OfType<CommandOptionAttribute>()
            .SelectMany(o => o.LongNames.Select(n => $"--{n}").Concat(o.ShortNames.Select(n => $"-{n}")))
            .Append("--help")
            .ToList();
}
