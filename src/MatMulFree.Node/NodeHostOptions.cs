using System.Globalization;
using System.Net;
using MatMulFree.Core;
using MatMulFree.Serving;

namespace MatMulFree.Node;

/// <summary>
/// What a node process is asked to serve: the flags of <c>mmf node</c> and of the node executable,
/// checked in one place so both refuse the same input with the same words.
/// </summary>
public sealed record NodeHostOptions
{
    /// <summary>The token from the environment, so that it need not show in the process list.</summary>
    public const string TokenVariable = "MMF_NODE_TOKEN";

    public const string DefaultHost = "127.0.0.1";
    public const int DefaultMaxSessions = 1024 + 64;
    public const int DefaultMaxBatch = 64;

    /// <summary>Every flag the parser takes, with dashes: the candidates when a typo is answered.</summary>
    public static readonly IReadOnlyList<string> Flags = ["--device", "--model", "--port", "--host", "--token", "--max-sessions", "--max-batch", "--help"];

    public string Device { get; init; } = CpuDevice.DeviceKind;
    public string? Model { get; init; }
    public int Port { get; init; }
    public string Host { get; init; } = DefaultHost;
    public string? Token { get; init; }
    public int MaxSessions { get; init; } = DefaultMaxSessions;
    public int MaxBatch { get; init; } = DefaultMaxBatch;

    /// <summary>The first thing wrong with the flags, or null when they describe a node that can start.</summary>
    public string? Validate()
    {
        if (Device != CpuDevice.DeviceKind) return $"--device must be cpu (the only device this build serves), got '{Device}'";
        if (string.IsNullOrWhiteSpace(Model)) return "--model is required";
        if (Port == 0) return "--port is required (1..65535)";
        if (Port is < 1 or > 65535) return $"--port must be in 1..65535, got {Port}";
        if (!IPAddress.TryParse(Host, out _)) return $"--host must be an IP address, got '{Host}'";
        if (MaxBatch < 1) return $"--max-batch must be at least 1, got {MaxBatch}";
        if (MaxSessions < MaxBatch) return $"--max-sessions must be at least --max-batch ({MaxBatch}), got {MaxSessions}";
        if (Token is { Length: 0 }) return "--token must not be empty";
        return null;
    }

    /// <summary>
    /// Reads <c>--flag value</c> and <c>--flag=value</c>; null when <c>--help</c> was asked for. Any
    /// mistake (an unknown flag, a missing or malformed value, or what <see cref="Validate"/> refuses)
    /// throws <see cref="MatMulFreeException"/> with the one line to show.
    /// </summary>
    /// <param name="program">How the caller is invoked, for the error that names an unknown flag.</param>
    public static NodeHostOptions? Parse(IReadOnlyList<string> args, string program)
    {
        var options = new NodeHostOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "--help" or "-h")
                return null;
            if (!arg.StartsWith('-'))
                throw new MatMulFreeException($"unexpected argument '{arg}' (see `{program} --help`)");
            string flag = arg, value;
            int equals = arg.IndexOf('=');
            if (equals > 0)
            {
                flag = arg[..equals];
                value = arg[(equals + 1)..];
            }
            else
            {
                if (!Flags.Contains(flag))
                    throw UnknownFlag(flag, program);
                if (i + 1 >= args.Count)
                    throw new MatMulFreeException($"{flag} needs a value");
                value = args[++i];
            }
            options = flag switch
            {
                "--device" => options with { Device = value },
                "--model" => options with { Model = value },
                "--port" => options with { Port = Number(flag, value) },
                "--host" => options with { Host = value },
                "--token" => options with { Token = value },
                "--max-sessions" => options with { MaxSessions = Number(flag, value) },
                "--max-batch" => options with { MaxBatch = Number(flag, value) },
                _ => throw UnknownFlag(flag, program),
            };
        }
        if (options.Validate() is { } error)
            throw new MatMulFreeException(error);
        return options;
    }

    /// <summary>The usage text of <c>--help</c>.</summary>
    public static string Usage(string program) =>
        $"""
        usage: {program} --device cpu --model DIR --port P [--host ADDR] [--token T] [--max-sessions N] [--max-batch N]
          --device KIND      the device to serve: cpu (the packed ternary engine). Default cpu.
          --model DIR        a serving folder from `mmf convert` or a Hugging Face model folder (converted at start).
          --port P           TCP port to listen on (HTTP/2, no TLS).
          --host ADDR        address to listen on. Default {DefaultHost}; any other needs --token.
          --token T          bearer token every call must carry; default ${TokenVariable}, else none.
          --max-sessions N   session states held at once. Default {DefaultMaxSessions}.
          --max-batch N      sessions in one decode step. Default {DefaultMaxBatch}.
        """;

    private static int Number(string flag, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new MatMulFreeException($"{flag} must be a whole number, got '{value}'");

    private static MatMulFreeException UnknownFlag(string flag, string program) =>
        new(NearestName.Closest(flag, Flags) is { } closest
            ? $"unknown flag {flag} for `{program}`; did you mean {closest}?"
            : $"unknown flag {flag} for `{program}` (see `{program} --help`)");
}
