using System.Diagnostics;
using System.Text;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.Core.Diagnostics;
using Microsoft.Data.Sqlite;

namespace DbSync.Bench;

/// <summary>Scenarios 4 and 6: status with many pending changes, and restoring a large run log backup.</summary>
internal sealed class OperationsScenario(BenchContext context)
{
    public async Task<OperationsResult> RunAsync(CancellationToken cancellationToken)
    {
        var result = new OperationsResult
        {
            PendingChanges = (int)Math.Max(1_000, 1_000_000 * context.Options.Scale),
            LogEntries = (int)Math.Max(1_000, 100_000 * context.Options.Scale),
            LatencySamplesWanted = (int)Math.Clamp(1_000 * context.Options.Scale, 10, 100),
        };
        try
        {
            await MeasureStatusAsync(result, cancellationToken);
        }
        catch (Exception ex) when (ex is DbSyncException or SqliteException or InvalidOperationException)
        {
            result.Failure = $"status: {ex.Message}";
        }

        try
        {
            await MeasureLatencyAsync(result, cancellationToken);
        }
        catch (Exception ex) when (ex is DbSyncException or SqliteException or Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
        {
            result.Failure = (result.Failure is null ? "" : result.Failure + "; ") + $"continuous mode: {ex.Message}";
        }

        try
        {
            await MeasureRestoreAsync(result, cancellationToken);
        }
        catch (Exception ex) when (ex is DbSyncException or SqliteException or IOException or InvalidOperationException)
        {
            result.Failure = (result.Failure is null ? "" : result.Failure + "; ") + $"restore-log: {ex.Message}";
        }

        return result;
    }

    private async Task MeasureStatusAsync(OperationsResult result, CancellationToken cancellationToken)
    {
        await MeasureStatusAsync(result, "status.sqlite", scrambled: false, result.StatusSamples, cancellationToken);
        await MeasureStatusAsync(result, "status-scrambled.sqlite", scrambled: true, result.ScrambledStatusSamples, cancellationToken);
    }

    /// <summary>
    /// Status on a file whose log holds one insert per row: keys ascending as logged, or (scrambled) inserted in a
    /// fixed scrambled order, so that every key reaches the log out of order (a multiplicative permutation).
    /// </summary>
    private async Task MeasureStatusAsync(OperationsResult result, string name, bool scrambled, List<TimeSpan> samples, CancellationToken cancellationToken)
    {
        var path = context.WorkFile(name);
        CreateTable(path);
        var engine = new SyncEngine();
        // A node that has synced (its empty table copied, so loaded), then made its changes: status counts them from the
        // change log. A table never copied counts all its rows instead.
        var schema = "bench_status";
        await engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = context.ConnectionString, Schema = schema }, cancellationToken: cancellationToken);
        await context.DropSchemaAsync(schema, cancellationToken);
        context.Log($"Scenario 4: recording {result.PendingChanges:N0} pending changes{(scrambled ? ", keys in scrambled order" : "")}");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // 7919 is prime, so coprime with any count not a multiple of it: i * 7919 mod n visits every key once.
            var key = scrambled && result.PendingChanges % OperationsResult.ScramblePrime != 0 ? $"(i * {OperationsResult.ScramblePrime}) % {result.PendingChanges} + 1" : "i";
            command.CommandText = $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {result.PendingChanges}) " +
                $"INSERT INTO events SELECT {key}, 'event ' || i, i * 0.5 FROM n";
            command.ExecuteNonQuery();
        }

        context.Log($"Scenario 4: Get-DbSyncStatus, local part{(scrambled ? ", keys in scrambled order" : "")}");
        var request = new StatusRequest { Path = path, Detailed = true };
        await engine.GetStatusAsync(request, cancellationToken); // warm: the figure is for a status check, not for JIT
        for (var i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            var status = await engine.GetStatusAsync(request, cancellationToken);
            samples.Add(clock.Elapsed);
            if (status.PendingChanges != result.PendingChanges)
            {
                throw new InvalidOperationException($"status reported {status.PendingChanges} pending changes, expected {result.PendingChanges}");
            }
        }
    }

    /// <summary>Scenario 5: one-row commits under continuous mode, commit to visible in PostgreSQL.</summary>
    private async Task MeasureLatencyAsync(OperationsResult result, CancellationToken cancellationToken)
    {
        var path = context.WorkFile("live.sqlite");
        using (var create = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            create.Open();
            using var command = create.CreateCommand();
            command.CommandText = "CREATE TABLE pings (id INTEGER PRIMARY KEY, sent TEXT NOT NULL)";
            command.ExecuteNonQuery();
        }

        await context.DropSchemaAsync("bench_live", cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var runs = 0;
        var watch = new SyncEngine().WatchAsync(new SyncRequest { Path = path, ConnectionString = context.ConnectionString, Schema = "bench_live" },
            new Core.Watching.WatchOptions { Interval = TimeSpan.FromMinutes(5) }, new Inline<Core.Watching.WatchRun>(r =>
            {
                if (r.Error is not null)
                {
                    throw new InvalidOperationException(r.Error.Message);
                }

                Interlocked.Increment(ref runs);
            }), null, stop.Token);
        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref runs) == 0)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException("continuous mode did not complete its first run within 60 s");
            }

            await Task.Delay(10, cancellationToken);
        }

        context.Log($"Scenario 5: {result.LatencySamplesWanted} one-row commits under continuous mode");
        await using var pg = new Npgsql.NpgsqlConnection(context.ConnectionString);
        await pg.OpenAsync(cancellationToken);
        using var probe = new Npgsql.NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM bench_live.pings WHERE id = $1)", pg);
        var id = probe.Parameters.Add(new Npgsql.NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        await probe.PrepareAsync(cancellationToken);
        using var writer = new SqliteConnection($"Data Source={path};Pooling=False");
        writer.Open();
        for (var i = 1; i <= result.LatencySamplesWanted; i++)
        {
            using (var insert = writer.CreateCommand())
            {
                insert.CommandText = $"INSERT INTO pings VALUES ({i}, datetime('now'))";
                insert.ExecuteNonQuery();
            }

            var clock = Stopwatch.StartNew();
            id.Value = (long)i;
            while (!(bool)(await probe.ExecuteScalarAsync(cancellationToken))!)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException($"commit {i} was not visible in PostgreSQL after 30 s");
                }

                await Task.Delay(1, cancellationToken);
            }

            result.LatencySamples.Add(clock.Elapsed);
            await Task.Delay(20, cancellationToken);
        }

        await stop.CancelAsync();
        await watch;
    }

    private sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    private async Task MeasureRestoreAsync(OperationsResult result, CancellationToken cancellationToken)
    {
        var path = context.WorkFile("restore.sqlite");
        CreateTable(path);
        // The backup is this file's own (restore-log skips other files' runs from a shared backup).
        var nodeId = (await new SyncEngine().EnableAsync(new EnableRequest { Path = path }, cancellationToken)).NodeId;
        var backup = context.WorkFile("restore-backup.jsonl");
        var random = new Random(BenchContext.Seed);
        var text = new StringBuilder();
        var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < result.LogEntries; i++)
        {
            var begun = start.AddMinutes(i * 5);
            text.Append(new RunLogEntry
            {
                RunId = new Guid(random.Next(), (short)random.Next(), (short)random.Next(), [.. Enumerable.Range(0, 8).Select(_ => (byte)random.Next(256))]),
                NodeId = nodeId,
                Path = Path.GetFullPath(path),
                Target = "db.example.org:5432/inventory as sync",
                StartedAt = begun,
                FinishedAt = begun.AddSeconds(2),
                Status = RunStatus.Succeeded,
                Inserted = random.Next(100),
                Updated = random.Next(100),
                Deleted = random.Next(10),
                DurationMs = 2000,
                Tables = [new TableLogEntry { Name = "events", Target = "\"public\".\"events\"", Mode = "Push", Status = "Succeeded", Inserted = 1 }],
            }.ToJson()).Append('\n');
        }

        await File.WriteAllTextAsync(backup, text.ToString(), cancellationToken);
        context.Log($"Scenario 6: restoring {result.LogEntries:N0} run log entries");
        var clock = Stopwatch.StartNew();
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = backup }, cancellationToken);
        result.Restore = Outcome.Of(restored.Restored.Count, clock.Elapsed);
        if (restored.Restored.Count != result.LogEntries || restored.Invalid.Count != 0)
        {
            throw new InvalidOperationException($"restored {restored.Restored.Count} of {result.LogEntries} entries, {restored.Invalid.Count} invalid");
        }
    }

    private static void CreateTable(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT, weight REAL)";
        command.ExecuteNonQuery();
    }
}

/// <summary>Scenarios 4 and 6.</summary>
internal sealed class OperationsResult
{
    public const double StatusGoalMs = 200;
    public const double RestoreGoalSeconds = 5;

    public int PendingChanges { get; set; }

    public int LogEntries { get; set; }

    public List<TimeSpan> StatusSamples { get; } = [];

    /// <summary>The same status check on a log whose keys come in scrambled order: not a target, the case the ascending log does not show.</summary>
    public List<TimeSpan> ScrambledStatusSamples { get; } = [];

    public const int ScramblePrime = 7919;

    public const double LatencyGoalMs = 50;

    public int LatencySamplesWanted { get; set; } = 100;

    public List<TimeSpan> LatencySamples { get; } = [];

    public double? LatencyMedianMs => Percentile(0.5);

    public double? LatencyP99Ms => Percentile(0.99);

    private double? Percentile(double p) => LatencySamples.Count == 0
        ? null
        : LatencySamples.Order().ElementAt(Math.Min(LatencySamples.Count - 1, (int)Math.Ceiling(p * LatencySamples.Count) - 1)).TotalMilliseconds;

    public Outcome Restore { get; set; } = Outcome.Failed("not run");

    public string? Failure { get; set; }

    public double? StatusMedianMs => Median(StatusSamples);

    public double? ScrambledStatusMedianMs => Median(ScrambledStatusSamples);

    private static double? Median(List<TimeSpan> samples) => samples.Count == 0 ? null : samples.Order().ElementAt(samples.Count / 2).TotalMilliseconds;

    public IEnumerable<string> Failures => Failure is null ? [] : [$"DbSync operations: {Failure}"];

    public IEnumerable<TargetCheck> Targets =>
    [
        new("4. Status, local part", $"under {StatusGoalMs:0} ms with {PendingChanges:N0} pending changes",
            StatusMedianMs is { } ms ? $"{ms:0} ms (median of {StatusSamples.Count})" : "not measured", TargetCheck.Judge(StatusMedianMs, ms => ms < StatusGoalMs)),
        new("5. Continuous mode, commit to visible", $"median ≤{LatencyGoalMs:0} ms",
            LatencyMedianMs is { } median ? $"median {median:0} ms, p99 {LatencyP99Ms:0} ms ({LatencySamples.Count} commits)" : "not measured",
            TargetCheck.Judge(LatencyMedianMs, ms => ms <= LatencyGoalMs)),
        new("6. Restore a run log backup", $"{LogEntries:N0} entries in under {RestoreGoalSeconds:0} s",
            Restore.Value is { } m ? $"{m.Elapsed.TotalSeconds:0.00} s" : Restore.Failure ?? "not measured",
            TargetCheck.Judge(Restore.Value?.Elapsed.TotalSeconds, s => s < RestoreGoalSeconds)),
    ];

    public IEnumerable<ChartBar> Bars => [new("6 log restore", Restore)];
}
