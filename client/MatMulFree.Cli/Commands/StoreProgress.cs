using MatMulFree.Storage;
using Spectre.Console;

namespace MatMulFree.Cli.Commands;

/// <summary>
/// Spectre progress bars for a snapshot transfer: one bar per file, created on its first report
/// (reports arrive from the SDK's worker threads, hence the lock).
/// </summary>
internal sealed class StoreProgress(ProgressContext context) : IProgress<TransferProgress>
{
    private readonly Dictionary<string, ProgressTask> tasks = new(StringComparer.Ordinal);

    public static Task<T> RunAsync<T>(Func<IProgress<TransferProgress>, Task<T>> transfer) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(context => transfer(new StoreProgress(context)));

    public void Report(TransferProgress value)
    {
        lock (tasks)
        {
            if (!tasks.TryGetValue(value.Path, out var task))
            {
                task = context.AddTask(Markup.Escape(value.Path), maxValue: Math.Max(1, value.TotalBytes));
                tasks[value.Path] = task;
            }
            task.Value = Math.Max(task.Value, value.BytesDone);
        }
    }
}
