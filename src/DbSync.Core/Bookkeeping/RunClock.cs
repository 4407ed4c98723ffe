using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace DbSync.Core.Bookkeeping;

/// <summary>
/// A run's times: the wall clock read once, at the start, and from then on a monotonic clock. The wall clock can step
/// back or forward during a run (NTP, a VM resumed from a snapshot, an administrator): a run that read it twice logged a
/// negative duration and a finish before its start, which restore-log then refused.
/// </summary>
internal sealed class RunClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    /// <summary>
    /// Added to the wall clock in this asynchronous flow only, so that a test can step the clock of its own run while
    /// other tests run beside it; never set outside tests.
    /// </summary>
    internal static readonly AsyncLocal<StrongBox<TimeSpan>?> TestOffset = new();

    /// <summary>The wall clock at the start, UTC.</summary>
    public DateTime StartedAt { get; } = WallNow();

    /// <summary>Time since the start, from the monotonic clock: never negative.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);

    /// <summary>The start plus the time since: never earlier than the start, whatever the wall clock did meanwhile.</summary>
    public DateTime Now => StartedAt + Elapsed;

    /// <summary>The wall clock now, UTC.</summary>
    public static DateTime WallNow() => DateTime.UtcNow + (TestOffset.Value?.Value ?? TimeSpan.Zero);
}
