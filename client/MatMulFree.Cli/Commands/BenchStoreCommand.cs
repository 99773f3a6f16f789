using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using MatMulFree.Storage;
using MatMulFree.Storage.Emulator;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// <c>mmf bench store</c>: push and pull throughput of one model of a given size, against a private
/// Azurite that the command starts and stops (or any store given with --store). Both directions
/// include SHA-256 hashing, because a real push or pull always pays for it.
/// </summary>
public sealed class BenchStoreCommand : AsyncCommand<BenchStoreCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--size <SIZE>")]
        [Description("Size of the model's weight file: bytes, or with KiB/MiB/GiB (or KB/MB/GB). Default 1GiB.")]
        [DefaultValue("1GiB")]
        public string Size { get; init; } = "1GiB";

        [CommandOption("--block-size <SIZE>")]
        [Description("Azure block and range size. Default 8MiB.")]
        [DefaultValue("8MiB")]
        public string BlockSize { get; init; } = "8MiB";

        [CommandOption("--concurrency <N>")]
        [Description("Blocks or ranges in flight per blob. Default 8.")]
        [DefaultValue(8)]
        public int Concurrency { get; init; } = 8;

        [CommandOption("--store <STORE>")]
        [Description("Benchmark this store instead of starting a local Azurite (any form `mmf store` accepts).")]
        public string? Store { get; init; }

        public override ValidationResult Validate()
        {
            if (!TryParseSize(Size, out var size) || size <= 0) return ValidationResult.Error($"--size \"{Size}\" is not a size like 1GiB or 512MiB");
            if (!TryParseSize(BlockSize, out var block) || block is <= 0 or > int.MaxValue) return ValidationResult.Error($"--block-size \"{BlockSize}\" is not a size like 8MiB");
            if (Concurrency is < 1 or > 64) return ValidationResult.Error($"--concurrency must be 1..64, got {Concurrency}");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        TryParseSize(settings.Size, out var size);
        TryParseSize(settings.BlockSize, out var blockSize);
        var options = new AzureBlobStoreOptions { BlockSize = (int)blockSize, MaxConcurrency = settings.Concurrency };
        var work = Directory.CreateTempSubdirectory("mmf-bench-store-");
        AzuriteProcess? azurite = null;
        try
        {
            var source = Path.Combine(work.FullName, "model");
            await WriteModelAsync(source, size, cancellationToken);
            if (settings.Store is null)
            {
                AnsiConsole.MarkupLine("[grey]starting Azurite...[/]");
                azurite = await AzuriteProcess.StartAsync(log: line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken: cancellationToken);
            }
            var location = StoreLocation.Parse(settings.Store ?? $"{azurite!.ConnectionString}Container=bench");
            var models = new ModelStore(location.Open(options));
            var name = $"bench-{Guid.NewGuid():N}"[..14];

            var clock = Stopwatch.StartNew();
            var pushed = await models.PushAsync(name, source, cancellationToken: cancellationToken);
            var push = clock.Elapsed;
            clock.Restart();
            await models.PullAsync(name, pushed.Version, Path.Combine(work.FullName, "pulled"), cancellationToken: cancellationToken);
            var pull = clock.Elapsed;

            var bytes = pushed.Manifest.TotalBytes;
            AnsiConsole.MarkupLineInterpolated($"store {location.Store}, {bytes:N0} bytes, block {settings.BlockSize}, concurrency {settings.Concurrency}");
            AnsiConsole.MarkupLineInterpolated($"push [bold]{bytes / 1e6 / push.TotalSeconds:F1} MB/s[/] ({push.TotalSeconds:F2} s)");
            AnsiConsole.MarkupLineInterpolated($"pull [bold]{bytes / 1e6 / pull.TotalSeconds:F1} MB/s[/] ({pull.TotalSeconds:F2} s)");
            AnsiConsole.MarkupLine("[grey]MB = 10^6 bytes; push = hash + upload + manifest, pull = download + hash + verify + write.[/]");
            await foreach (var blob in models.Blobs.ListAsync($"{StoreLayout.Model(name)}/", cancellationToken))
                await models.Blobs.DeleteAsync(blob.Path, cancellationToken);
            return 0;
        }
        finally
        {
            if (azurite is not null) await azurite.DisposeAsync();
            work.Delete(recursive: true);
        }
    }

    /// <summary>A config.json and one weight file of random bytes (incompressible, like packed weights).</summary>
    private static async Task WriteModelAsync(string folder, long size, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "config.json"), "{\"model_type\":\"hgrn_bit\"}", cancellationToken);
        await using var weights = new FileStream(Path.Combine(folder, "model.safetensors"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous);
        var buffer = new byte[4 << 20];
        var random = new Random(42);
        for (long left = size; left > 0; left -= buffer.Length)
        {
            random.NextBytes(buffer);
            await weights.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken);
        }
    }

    internal static bool TryParseSize(string text, out long bytes)
    {
        (string Suffix, long Scale)[] units = [("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("B", 1)];
        text = text.Trim();
        var (suffix, scale) = units.FirstOrDefault(u => text.EndsWith(u.Suffix, StringComparison.OrdinalIgnoreCase), ("", 1));
        var ok = double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0;
        bytes = ok ? (long)(value * scale) : 0;
        return ok;
    }
}
