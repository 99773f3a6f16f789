using MatMulFree.Storage;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// What a store path names for push/pull/verify: <c>models/NAME[/VERSION]</c> or
/// <c>runs/RUN[/checkpoints/STEP]</c>; anything else is a flag error naming the argument.
/// </summary>
internal sealed record StoreTarget(string? Model, string? Version, string? Run, long? Step)
{
    public static StoreTarget Parse(StoreLocation location, string argument)
    {
        var parts = location.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts switch
        {
            [StoreLayout.Models, var name] => new(name, null, null, null),
            [StoreLayout.Models, var name, var version] => new(name, version, null, null),
            [StoreLayout.Runs, var run] => new(null, null, run, null),
            [StoreLayout.Runs, var run, "checkpoints", var step] when long.TryParse(step, out var s) => new(null, null, run, s),
            _ => throw new StoreLocationException(
                $"{argument} '{location}' does not name a model or a run: expected .../models/NAME[/VERSION] or .../runs/RUN[/checkpoints/STEP]"),
        };
    }
}
