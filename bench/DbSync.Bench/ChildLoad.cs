using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DbSync.Core;

namespace DbSync.Bench;

/// <summary>
/// Measures DbSync's peak memory during an initial load in a process of its own (this program started with
/// <c>--child-load</c>), so that data generation and the benchmark's own buffers do not count. The child reports
/// its peak resident set (VmHWM from /proc/self/status) just before it exits.
/// </summary>
internal static class ChildLoad
{
    public const string Flag = "--child-load";
    private const string ConnectionVariable = "DBSYNC_BENCH_CONNECTION";

    private sealed record Report(string Status, long Inserted, double Seconds, long PeakRssBytes);

    /// <summary>Parent side: loads <paramref name="path"/> into <paramref name="schema"/> in a child process.</summary>
    public static async Task<MemoryProbe> MeasureAsync(BenchContext context, string path, string schema, CancellationToken cancellationToken)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var arguments = new List<string> { Flag, path, schema };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            arguments.Insert(0, typeof(ChildLoad).Assembly.Location);
        }

        var run = await ProcessRunner.RunAsync(host, arguments, TimeSpan.FromMinutes(30), cancellationToken,
            new Dictionary<string, string> { [ConnectionVariable] = context.ConnectionString });
        if (run.ExitCode != 0 || run.TimedOut)
        {
            throw new InvalidOperationException($"the child load failed: {run.Describe()}");
        }

        var report = JsonSerializer.Deserialize<Report>(run.StandardOutput, JsonSerializerOptions.Web)
            ?? throw new InvalidOperationException("the child load printed no report");
        return new MemoryProbe(report.Inserted, report.PeakRssBytes, TimeSpan.FromSeconds(report.Seconds));
    }

    /// <summary>Child side: one SyncAsync, then a JSON report on standard output. Exit code 0 only on success.</summary>
    public static async Task<int> RunAsync(string path, string schema)
    {
        var connectionString = Environment.GetEnvironmentVariable(ConnectionVariable);
        if (string.IsNullOrEmpty(connectionString))
        {
            await Console.Error.WriteLineAsync($"{Flag} needs the connection string in {ConnectionVariable}.");
            return 2;
        }

        var clock = Stopwatch.StartNew();
        try
        {
            var result = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = connectionString, Schema = schema });
            var report = new Report(result.Status.ToString(), result.Inserted, clock.Elapsed.TotalSeconds, PeakResidentBytes());
            Console.WriteLine(JsonSerializer.Serialize(report, JsonSerializerOptions.Web));
            return result.Status == SyncStatus.Succeeded ? 0 : 1;
        }
        catch (DbSyncException ex)
        {
            await Console.Error.WriteLineAsync($"{ex.ErrorId}: {ex.Message}");
            return 1;
        }
    }

    /// <summary>VmHWM, the process's peak resident set size.</summary>
    private static long PeakResidentBytes()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        var kilobytes = line["VmHWM:".Length..].Trim().Split(' ')[0];
        return long.Parse(kilobytes, CultureInfo.InvariantCulture) * 1024;
    }
}
