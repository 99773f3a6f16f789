using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MatMulFree.Engine.Benchmarks;

/// <summary>
/// CPU time consumed by the calling thread. On a shared machine wall-clock time counts the
/// minutes other processes held the cores; the thread's own CPU time does not, so per-stage
/// profiles and kernel rates stay comparable between a quiet and a loaded machine.
/// </summary>
public static unsafe partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, TimeSpec* time);

    /// <summary>False where the thread clock is unavailable (not Linux): <see cref="Seconds"/> then falls back to wall time.</summary>
    public static bool IsThreadTime { get; } = OperatingSystem.IsLinux();

    public static double Seconds()
    {
        if (IsThreadTime)
        {
            TimeSpec t;
            if (ClockGetTime(ClockThreadCpuTimeId, &t) == 0)
                return t.Seconds + t.Nanoseconds * 1e-9;
        }
        return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
    }

    /// <summary>CPU time of every thread of this process (user + system).</summary>
    public static double ProcessSeconds()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }
}
