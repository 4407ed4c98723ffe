using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.Core.Watching;
using DbSync.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace DbSync.Tests;

public sealed class ContinuousModeTests(ITestOutputHelper output) : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < timeout, $"timed out after {timeout.TotalSeconds} s waiting for {what}");
            await Task.Delay(20);
        }
    }

    private static long Count(string connection, string sql)
    {
        using var pg = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connection) { Pooling = false }.ConnectionString);
        pg.Open();
        using var command = new NpgsqlCommand(sql, pg);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Continuous_mode_pushes_each_commit_survives_a_server_restart_and_stops_cleanly()
    {
        var (connection, directory) = TestServer.StartPrivate();
        try
        {
            var path = _fixture.CreateDatabase("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO note VALUES (1, 'first');");
            var runs = new ConcurrentQueue<WatchRun>();
            using var stop = new CancellationTokenSource();
            var request = new SyncRequest { Path = path, ConnectionString = connection, Schema = "live" };
            var watch = new SyncEngine().WatchAsync(request, new WatchOptions { Interval = TimeSpan.FromSeconds(60), FirstRetryDelay = TimeSpan.FromMilliseconds(200) },
                new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);

            await WaitUntilAsync(() => runs.Any(r => r.Result is not null), TimeSpan.FromSeconds(30), "the initial load");
            var afterLoad = runs.Count;

            // Idle: no commits, no runs (and no run log entries).
            await Task.Delay(700);
            Assert.Equal(afterLoad, runs.Count);

            // A commit by another program is in PostgreSQL shortly after, without waiting for the 60 s interval.
            SyncFixture.Execute(path, "INSERT INTO note VALUES (2, 'second')");
            await WaitUntilAsync(() => Count(connection, "SELECT count(*) FROM live.note WHERE id = 2") == 1, TimeSpan.FromSeconds(10), "the second row");

            // The server goes away: runs fail and are retried with backoff; nothing is lost.
            TestServer.HaltPrivate(directory);
            SyncFixture.Execute(path, "INSERT INTO note VALUES (3, 'while down'); UPDATE note SET body = 'changed while down' WHERE id = 1;");
            await WaitUntilAsync(() => runs.Count(r => r.Error is not null) >= 2, TimeSpan.FromSeconds(30), "failed runs while the server is down");
            Assert.All(runs.Where(r => r.Error is not null), r => Assert.Equal("DbSync.TargetUnreachable", r.Error!.ErrorId));
            TestServer.ResumePrivate(directory);
            await WaitUntilAsync(() => Count(connection, "SELECT count(*) FROM live.note WHERE id = 3 OR body = 'changed while down'") == 2,
                TimeSpan.FromSeconds(30), "the changes made while the server was down");

            await stop.CancelAsync();
            await watch.WaitAsync(TimeSpan.FromSeconds(30));

            var retries = runs.Where(r => r.RetryIn is not null).Select(r => r.RetryIn!.Value).ToList();
            output.WriteLine($"{runs.Count} reports, retries after {string.Join(", ", retries.Select(r => r.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)))} s");
            Assert.True(retries.Count >= 2 && retries[1] > retries[0], "the retry delay did not back off");
            var log = await new SyncEngine().GetLogAsync(new LogQuery { Path = path });
            Assert.DoesNotContain(log, e => e.Status == RunStatus.Running);
            Assert.Equal(runs.Count(r => r.Result is not null), log.Count(e => e.Status == RunStatus.Succeeded));
        }
        finally
        {
            TestServer.StopPrivate(directory);
        }
    }

    [Fact]
    public async Task A_lock_held_longer_than_the_busy_timeout_pauses_the_watch_and_the_next_commit_still_arrives()
    {
        // Rollback-journal mode: another program's long write keeps even the watch's reads out. The watch ended the
        // process with an unhandled exception after a fixed 5 s.
        var path = _fixture.CreateDatabase("CREATE TABLE tick (id INTEGER PRIMARY KEY);");
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var request = new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, BusyTimeout = TimeSpan.FromSeconds(1) };
        var watch = new SyncEngine().WatchAsync(request, new WatchOptions { Interval = TimeSpan.FromMinutes(10) }, new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => !runs.IsEmpty, TimeSpan.FromSeconds(30), "the initial load");

        using (var holder = SyncFixture.OpenSqlite(path))
        {
            SyncFixture.Execute(holder, "BEGIN EXCLUSIVE; INSERT INTO tick VALUES (1);");
            // Longer than the busy timeout, and than the 5 s the watch used to wait whatever it was.
            await Task.Delay(TimeSpan.FromSeconds(6));
            Assert.False(watch.IsCompleted, watch.Exception?.ToString());
            SyncFixture.Execute(holder, "COMMIT");
        }

        await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".tick WHERE id = 1") == 1, TimeSpan.FromSeconds(20), "the commit after the lock");
        SyncFixture.Execute(path, "INSERT INTO tick VALUES (2)");
        await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".tick WHERE id = 2") == 1, TimeSpan.FromSeconds(20), "the next commit");
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task An_idle_watch_checks_the_file_rarely_and_still_pushes_a_commit_at_once()
    {
        // Ops exploration F7: an idle watch queried the file every 5 ms (about 400 times in 2 s, 7.5 % of a core for as
        // long as the node was idle). File-system events now wake it; it also looks every IdleCheckInterval (100 ms).
        var path = _fixture.CreateDatabase("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO note VALUES (1, 'first');");
        var runs = new ConcurrentQueue<WatchRun>();
        var checks = 0;
        using var stop = new CancellationTokenSource();
        var watch = new SyncEngine().WatchAsync(_fixture.Request(path),
            new WatchOptions { Interval = TimeSpan.FromMinutes(10), OnCheck = () => Interlocked.Increment(ref checks) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => runs.Any(r => r.Result is not null), TimeSpan.FromSeconds(30), "the initial load");
        await Task.Delay(500);

        var before = Volatile.Read(ref checks);
        await Task.Delay(2000);
        var idle = Volatile.Read(ref checks) - before;
        var clock = Stopwatch.StartNew();
        SyncFixture.Execute(path, "INSERT INTO note VALUES (2, 'second')");
        await WaitUntilAsync(() => Count(TestServer.ConnectionString, $"SELECT count(*) FROM \"{_fixture.Schema}\".note WHERE id = 2") == 1,
            TimeSpan.FromSeconds(10), "the second row");
        output.WriteLine($"{idle} checks in 2 s idle; the commit was in PostgreSQL after {clock.ElapsedMilliseconds} ms");
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.InRange(idle, 1, 60);
        Assert.Equal(2, runs.Count(r => r.Result is not null));
    }

    [Fact]
    public async Task Each_watched_run_reports_its_progress_before_its_result()
    {
        // What Start-DbSync -Continuous shows as its progress bar (it passed no progress, so showed none).
        var path = _fixture.CreateDatabase("CREATE TABLE tick (id INTEGER PRIMARY KEY); INSERT INTO tick VALUES (1);");
        var reports = new ConcurrentQueue<object>();
        using var stop = new CancellationTokenSource();
        var watch = new SyncEngine().WatchAsync(_fixture.Request(path), new WatchOptions { Interval = TimeSpan.FromMinutes(10) },
            new InlineProgress<WatchRun>(reports.Enqueue), new InlineProgress<SyncProgress>(reports.Enqueue), stop.Token);
        await WaitUntilAsync(() => reports.Count(r => r is WatchRun) == 1, TimeSpan.FromSeconds(30), "the initial load");
        SyncFixture.Execute(path, "INSERT INTO tick VALUES (2)");
        await WaitUntilAsync(() => reports.Count(r => r is WatchRun) == 2, TimeSpan.FromSeconds(30), "the run of the commit");
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));

        var list = reports.ToList();
        var second = list.FindIndex(r => r is WatchRun);
        Assert.Contains(list.Take(second), r => r is SyncProgress { Phase: SyncPhase.Preparing });
        Assert.Contains(list.Take(second), r => r is SyncProgress { Phase: SyncPhase.Recording });
        Assert.Contains(list.Skip(second + 1), r => r is SyncProgress { Phase: SyncPhase.Applying });
    }

    [Fact]
    public async Task Every_commit_of_a_rapid_stream_arrives_without_waiting_for_the_interval()
    {
        // Commits that land while a run is ending must still wake the next run (a bug the benchmark found).
        var path = _fixture.CreateDatabase("CREATE TABLE tick (id INTEGER PRIMARY KEY);");
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var watch = new SyncEngine().WatchAsync(_fixture.Request(path), new WatchOptions { Interval = TimeSpan.FromMinutes(10) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => !runs.IsEmpty, TimeSpan.FromSeconds(30), "the initial load");
        var random = new Random(7);
        using (var writer = SyncFixture.OpenSqlite(path))
        {
            for (var i = 1; i <= 60; i++)
            {
                SyncFixture.Execute(writer, $"INSERT INTO tick VALUES ({i})");
                var id = i;
                await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".tick WHERE id = {id}") == 1,
                    TimeSpan.FromSeconds(10), $"commit {i}");
                await Task.Delay(random.Next(0, 15));
            }
        }

        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(runs, r => r.Error is not null);
    }

    [Fact]
    public async Task A_held_row_and_an_unselected_table_s_changes_do_not_start_run_after_run_and_new_commits_still_do()
    {
        // A held row stays pending, and each run's own commit (its run log entry, the row's attempt count) woke the
        // watcher, which found the log not empty: about 24 runs a second, each logged, for as long as the row was held.
        var path = _fixture.CreateDatabase("""
            PRAGMA foreign_keys = OFF;
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));
            CREATE TABLE other (id INTEGER PRIMARY KEY);
            INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 99);
            """);
        Assert.Equal(SyncStatus.PartiallySucceeded, (await _fixture.SyncAsync(path, "parent", "child")).Status);
        SyncFixture.Execute(path, "INSERT INTO other VALUES (1)");
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var request = new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["parent", "child"] };
        var watch = new SyncEngine().WatchAsync(request, new WatchOptions { Interval = TimeSpan.FromMinutes(10) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => !runs.IsEmpty, TimeSpan.FromSeconds(30), "the first run");
        await Task.Delay(1500);

        Assert.Single(runs);
        SyncFixture.Execute(path, "INSERT INTO child VALUES (3, 1)");
        await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".child WHERE id = 3") == 1, TimeSpan.FromSeconds(10), "the new row");
        await Task.Delay(1500);
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (r.Result!.Status, r.Result.Quarantined)));
        Assert.Equal(3, (await new SyncEngine().GetLogAsync(new LogQuery { Path = path })).Count);
        Assert.Equal(3, Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path })).Attempts);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM pg_tables WHERE schemaname = '{_fixture.Schema}' AND tablename = 'other'"));
    }

    [Fact]
    public async Task A_target_version_the_file_refuses_waits_for_the_interval_rather_than_starting_run_after_run()
    {
        // PostgreSQL deleted a parent this node changed, and the file still has its child: the winning delete is refused by
        // the file's foreign key. Its row was kept pending by a log entry after the run's snapshot, which the watch took
        // for a new commit: about 10 runs a second, each recording one more conflict (exploration S3).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE parent (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL REFERENCES parent (id));
            INSERT INTO parent VALUES (1, 'p'), (2, 'q'); INSERT INTO child VALUES (10, 1);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var schema = $"\"{_fixture.Schema}\"";
        _fixture.PgExecute($"DELETE FROM {schema}.child; DELETE FROM {schema}.parent WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE parent SET v = 'local' WHERE id = 1");
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var request = new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = ConflictPolicy.TargetWins };
        var watch = new SyncEngine().WatchAsync(request, new WatchOptions { Interval = TimeSpan.FromMinutes(10) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => !runs.IsEmpty, TimeSpan.FromSeconds(30), "the first run");
        await Task.Delay(3000);

        // One run met the conflict; a new commit still starts a run at once.
        var first = Assert.Single(runs).Result!;
        Assert.Equal((1L, SyncStatus.PartiallySucceeded), (first.Conflicts, first.Status));
        Assert.Contains(first.Warnings, w => w.StartsWith("Table 'parent': PostgreSQL's version of the row (id = 1), which won its conflict (DeletedInTarget)", StringComparison.Ordinal));
        SyncFixture.Execute(path, "UPDATE parent SET v = 'changed' WHERE id = 2");
        await WaitUntilAsync(() => _fixture.PgText($"SELECT v FROM {schema}.parent WHERE id = 2") == "changed", TimeSpan.FromSeconds(10), "the new commit");
        await Task.Delay(1500);
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, runs.Count);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {schema}.parent WHERE id = 1"));
        Assert.Single(await new SyncEngine().GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
    }

    [Fact]
    public async Task A_row_the_first_load_holds_back_waits_for_the_interval_too()
    {
        // A row held back by a whole-table copy had no log entry: the run gives it one, after its snapshot, which the
        // watch took for a new commit, starting a second run at once.
        var path = _fixture.CreateDatabase("""
            PRAGMA foreign_keys = OFF;
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));
            INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 99);
            """);
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var watch = new SyncEngine().WatchAsync(_fixture.Request(path), new WatchOptions { Interval = TimeSpan.FromMinutes(10) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => !runs.IsEmpty, TimeSpan.FromSeconds(30), "the first run");
        await Task.Delay(2000);
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));

        var run = Assert.Single(runs).Result!;
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (run.Status, run.Quarantined));
        Assert.Equal(1, Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path })).Attempts);
    }

    [Fact]
    public async Task A_table_rebuilt_or_given_a_new_column_by_another_program_is_synced_while_watching()
    {
        // The watch started a run only when a change log gained entries. A table rebuilt the way SQLite recommends (or
        // dropped and created again) lost its capture triggers, and ADD COLUMN ... DEFAULT fills rows without firing them:
        // neither was copied again while the watch ran, nor did later writes to the rebuilt table start a run (capture
        // exploration, finding 3).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE rebuilt (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE added (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO rebuilt VALUES (1, 'v1'), (2, 'v2'), (3, 'v3');
            INSERT INTO added VALUES (1, 'v1'), (2, 'v2');
            """);
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var watch = new SyncEngine().WatchAsync(_fixture.Request(path), new WatchOptions { Interval = TimeSpan.FromMinutes(10) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => !runs.IsEmpty, TimeSpan.FromSeconds(30), "the initial load");
        var schema = $"\"{_fixture.Schema}\"";

        SyncFixture.Execute(path, """
            BEGIN;
            CREATE TABLE rebuilt_new (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
            INSERT INTO rebuilt_new SELECT id, upper(v) FROM rebuilt WHERE id <> 3;
            DROP TABLE rebuilt;
            ALTER TABLE rebuilt_new RENAME TO rebuilt;
            COMMIT;
            """);
        bool Ran(string table, string mode, long inserted = -1) => runs.Any(r => r.Result?.Tables.Any(t => t.Name == table && t.Mode == mode && (inserted < 0 || t.Inserted == inserted)) == true);
        await WaitUntilAsync(() => Ran("rebuilt", "FullCopy"), TimeSpan.FromSeconds(20), "a run copying the rebuilt table");
        Assert.Equal(22, _fixture.PgScalar($"SELECT count(*) FILTER (WHERE v IN ('V1', 'V2')) * 10 + count(*) FROM {schema}.rebuilt"));
        SyncFixture.Execute(path, "ALTER TABLE added ADD COLUMN flag INTEGER DEFAULT 7");
        await WaitUntilAsync(() => Ran("added", "FullCopy"), TimeSpan.FromSeconds(20), "a run copying the table with a new column");
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM {schema}.added WHERE flag = 7"));
        // Its triggers are back: a write to the rebuilt table alone starts a run.
        SyncFixture.Execute(path, "INSERT INTO rebuilt VALUES (4, 'four')");
        await WaitUntilAsync(() => Ran("rebuilt", "Push", inserted: 1), TimeSpan.FromSeconds(20), "a run pushing a write to the rebuilt table");

        // Neither DbSync's own schema changes (the triggers it installed) nor one no run acts on start a run.
        var settled = runs.Count;
        await Task.Delay(1500);
        SyncFixture.Execute(path, "CREATE INDEX added_v ON added (v)");
        await Task.Delay(1500);
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));

        foreach (var run in runs)
        {
            output.WriteLine(run.Result is { } r ? string.Join(", ", r.Tables.Select(t => $"{t.Name} {t.Mode} +{t.Inserted} ~{t.Updated} -{t.Deleted}")) : run.Error?.Message);
        }

        Assert.Equal(settled, runs.Count);
        Assert.All(runs, r => Assert.Equal(SyncStatus.Succeeded, r.Result?.Status));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_table_every_run_skips_does_not_start_run_after_run_and_other_commits_still_arrive()
    {
        // A table a run skips before loading it (a column named like a PostgreSQL system column) stayed "not loaded":
        // each run's own bookkeeping commit woke the watch, which saw a table needing its load and ran again at once, for
        // ever (16 runs in 4 s, each logged).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE good (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE bad (id INTEGER PRIMARY KEY, xmin TEXT);
            INSERT INTO good VALUES (1, 'a'); INSERT INTO bad VALUES (1, 'x');
            """);
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var watch = new SyncEngine().WatchAsync(_fixture.Request(path), new WatchOptions { Interval = TimeSpan.FromMinutes(10) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => !runs.IsEmpty, TimeSpan.FromSeconds(30), "the first run");
        await Task.Delay(2000);
        var settled = runs.Count;
        SyncFixture.Execute(path, "INSERT INTO good VALUES (2, 'b')");
        await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".good") == 2, TimeSpan.FromSeconds(20), "the commit to arrive");
        await Task.Delay(2000);
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, settled);
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.Equal((SyncStatus.PartiallySucceeded, "bad", SyncStatus.Failed),
            (r.Result!.Status, r.Result.Tables.Single(t => t.Status == SyncStatus.Failed).Name, r.Result.Tables.Single(t => t.Name == "bad").Status)));
    }

    [Fact]
    public async Task A_held_row_is_tried_again_each_interval_and_syncs_once_its_parent_arrives()
    {
        var path = _fixture.CreateDatabase("""
            PRAGMA foreign_keys = OFF;
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));
            INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 99);
            """);
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var watch = new SyncEngine().WatchAsync(_fixture.Request(path), new WatchOptions { Interval = TimeSpan.FromSeconds(1) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => runs.Count >= 3, TimeSpan.FromSeconds(30), "two retries of the held row");
        Assert.All(runs, r => Assert.Equal(1L, r.Result!.Quarantined));

        // Another node (here a direct writer) inserts the parent: the next retry finds it.
        _fixture.PgExecute($"INSERT INTO \"{_fixture.Schema}\".parent VALUES (99)");
        await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".child WHERE id = 2") == 1, TimeSpan.FromSeconds(15), "the held row");
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Empty(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
    }

    [Fact]
    public async Task The_cli_watch_mode_prints_a_json_line_per_run_and_exits_0_on_sigterm()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT);");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "dbsync.dll"), "sync", "--watch", "--interval", "60", "--path", path,
            "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--json" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var lines = new ConcurrentQueue<string>();
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lines.Enqueue(line);
            }
        });

        await WaitUntilAsync(() => lines.Count >= 1, TimeSpan.FromSeconds(30), "the first run");
        SyncFixture.Execute(path, "INSERT INTO note VALUES (1, 'hello')");
        await WaitUntilAsync(() => lines.Count >= 2, TimeSpan.FromSeconds(10), "the run for the commit");
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await process.WaitForExitAsync();
        await reader;

        Assert.Equal(0, process.ExitCode);
        var second = System.Text.Json.JsonDocument.Parse(lines.ElementAt(1)).RootElement;
        Assert.Equal("Succeeded", second.GetProperty("status").GetString());
        Assert.Equal(1, second.GetProperty("inserted").GetInt64());
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".note"));
        Assert.DoesNotContain(lines, l => l.Contains(TestServer.Password, StringComparison.Ordinal));
    }

    /// <summary>Starts <c>dbsync sync --watch --json</c> as a process and collects its stdout lines.</summary>
    private static (Process Process, ConcurrentQueue<string> Lines, Task Reader) StartWatch(params string[] args)
    {
        var process = FaultTests.StartDotnet("dbsync.dll", ["sync", "--watch", "--json", .. args]);
        var lines = new ConcurrentQueue<string>();
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lines.Enqueue(line);
            }
        });
        return (process, lines, reader);
    }

    private static async Task SignalAsync(Process process, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    private static System.Text.Json.JsonElement Parse(string line) => System.Text.Json.JsonDocument.Parse(line).RootElement;

    [Fact]
    public async Task A_damaged_file_is_a_failed_line_and_the_watch_syncs_the_good_file_a_deploy_puts_back()
    {
        // The watch died with an unhandled SqliteException (exit 134, a stack trace, no line) when the file was truncated
        // or replaced under it: a service crash where one Failed line and a retry were due.
        var path = _fixture.CopyChinook();
        var (process, lines, reader) = StartWatch("--interval", "2", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema);
        using var _ = process;
        try
        {
            await WaitUntilAsync(() => !lines.IsEmpty, TimeSpan.FromSeconds(60), "the initial load");
            var good = Path.Combine(_fixture.Directory, "good.sqlite");
            File.Copy(path, good);
            SyncFixture.Execute(good, "INSERT INTO Genre (GenreId, Name) VALUES (1001, 'deployed')");

            using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            {
                file.SetLength(40_000);
            }

            await WaitUntilAsync(() => lines.Skip(1).Count(l => Parse(l).GetProperty("status").GetString() == "Failed") >= 2, TimeSpan.FromSeconds(30),
                "failed lines for the damaged file");
            Assert.False(process.HasExited, $"the watch ended with exit code {(process.HasExited ? process.ExitCode : 0)}");
            var failed = Parse(lines.Skip(1).First());
            Assert.Equal("Failed", failed.GetProperty("status").GetString());
            Assert.Contains(failed.GetProperty("errorId").GetString(), new[] { "DbSync.SourceCorrupt", "DbSync.SourceNotSqlite", "DbSync.SourceError" });
            Assert.Contains(path, failed.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.True(failed.GetProperty("retryInSeconds").GetDouble() > 0);

            // The deploy: a good file renamed over the damaged one.
            File.Move(good, path, overwrite: true);
            await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".genre WHERE name = 'deployed'") == 1,
                TimeSpan.FromSeconds(30), "the deployed file's row");

            await SignalAsync(process, "TERM");
            Assert.True(process.WaitForExit(30_000), "the watch did not stop on SIGTERM");
            await reader;
            Assert.Equal(0, process.ExitCode);
            Assert.All(lines, l => Parse(l));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    [Fact]
    public async Task A_file_deleted_and_restored_at_the_same_path_is_followed_and_its_commits_arrive()
    {
        // The watch kept polling the deleted file through its open connection (PRAGMA data_version): the restored file's
        // commits were never pushed, not even at the interval, and nothing was reported.
        var path = _fixture.CreateDatabase("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO note VALUES (1, 'first');");
        var runs = new ConcurrentQueue<WatchRun>();
        using var stop = new CancellationTokenSource();
        var watch = new SyncEngine().WatchAsync(_fixture.Request(path), new WatchOptions { Interval = TimeSpan.FromSeconds(2), FirstRetryDelay = TimeSpan.FromMilliseconds(200) },
            new InlineProgress<WatchRun>(runs.Enqueue), null, stop.Token);
        await WaitUntilAsync(() => !runs.IsEmpty, TimeSpan.FromSeconds(30), "the initial load");

        var backup = Path.Combine(_fixture.Directory, "backup.sqlite");
        File.Copy(path, backup);
        File.Delete(path);
        await WaitUntilAsync(() => runs.Any(r => r.Error?.ErrorId == ErrorIds.SourceNotFound), TimeSpan.FromSeconds(10), "the missing file reported");
        Assert.Contains(path, runs.First(r => r.Error is not null).Error!.Message, StringComparison.Ordinal);
        File.Copy(backup, path);
        SyncFixture.Execute(path, "INSERT INTO note VALUES (2, 'after the restore')");

        await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".note WHERE id = 2") == 1, TimeSpan.FromSeconds(15),
            "the restored file's commit");
        SyncFixture.Execute(path, "INSERT INTO note VALUES (3, 'next')");
        await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".note WHERE id = 3") == 1, TimeSpan.FromSeconds(15),
            "the next commit");
        await stop.CancelAsync();
        await watch.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_failed_line_for_the_missing_file_has_the_documented_fields_and_no_null_run_id()
    {
        // Watch-mode failed lines carried "runId": null where cli.md (and the one-shot failure object) leave it out.
        var path = _fixture.CreateDatabase("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT);");
        var (process, lines, reader) = StartWatch("--interval", "2", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema);
        using var _ = process;
        try
        {
            await WaitUntilAsync(() => !lines.IsEmpty, TimeSpan.FromSeconds(60), "the initial load");
            File.Delete(path);
            await WaitUntilAsync(() => lines.Count >= 2, TimeSpan.FromSeconds(20), "the failed line");

            var failed = Parse(lines.ElementAt(1));
            Assert.Equal(["status", "errorId", "message", "retryInSeconds"], failed.EnumerateObject().Select(p => p.Name));
            Assert.Equal("Failed", failed.GetProperty("status").GetString());
            Assert.Equal("DbSync.SourceNotFound", failed.GetProperty("errorId").GetString());
            Assert.Contains(path, failed.GetProperty("message").GetString(), StringComparison.Ordinal);
            await SignalAsync(process, "TERM");
            Assert.True(process.WaitForExit(30_000), "the watch did not stop on SIGTERM");
            await reader;
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("HUP")]
    public async Task A_signal_during_a_run_cancels_it_prints_its_cancelled_line_and_exits_0(string signal)
    {
        // SIGHUP killed the process at once (exit 129) and left the run Abandoned; SIGTERM stopped it cleanly but the
        // cancelled run printed no line, although with --json every run prints one. The load must outlast the signal's
        // way there: 400,000 rows loaded in about a second on an idle machine, and the run sometimes ended Succeeded first.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE bulk (id INTEGER PRIMARY KEY, note TEXT);
            WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1500000)
            INSERT INTO bulk SELECT i, printf('%0100d', i) FROM s;
            """);
        var (process, lines, reader) = StartWatch("--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema);
        using var _ = process;
        try
        {
            await WaitUntilAsync(() => SyncFixture.RunLogged(path, "Running"), TimeSpan.FromSeconds(60), "the initial load to start");
            await Task.Delay(300);
            await SignalAsync(process, signal);
            Assert.True(process.WaitForExit(60_000), $"the watch did not stop on SIG{signal}");
            await reader;

            Assert.Equal(0, process.ExitCode);
            var line = Parse(Assert.Single(lines));
            Assert.Equal("Cancelled", line.GetProperty("status").GetString());
            Assert.Equal("DbSync.Cancelled", line.GetProperty("errorId").GetString());
            var runId = Guid.Parse(line.GetProperty("runId").GetString()!);
            var entry = Assert.Single(await new SyncEngine().GetLogAsync(new LogQuery { Path = path }), e => e.RunId == runId);
            Assert.Equal(RunStatus.Cancelled, entry.Status);
            var created = _fixture.PgScalar($"SELECT count(*) FROM pg_tables WHERE schemaname = '{_fixture.Schema}' AND tablename = 'bulk'") > 0;
            Assert.True(!created || _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".bulk") == 0, "a cancelled run applied rows");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    [Fact]
    public async Task A_silent_network_gives_failed_lines_and_retries_and_sigterm_still_stops_the_watch()
    {
        // Through a relay that stopped forwarding, the watch waited on its kept connection for ever: no line, no retry,
        // and still running 93 s after SIGTERM (Npgsql's cancel request, over a new connection, got no answer either).
        var server = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString);
        using var relay = new PausableRelay(server.Host!, server.Port);
        var connection = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Host = "127.0.0.1", Port = relay.Port, Timeout = 3 }.ConnectionString;
        var path = _fixture.CreateDatabase("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT);");
        var (process, lines, reader) = StartWatch("--interval", "2", "--path", path, "--connection", connection, "--schema", _fixture.Schema);
        using var _ = process;
        try
        {
            await WaitUntilAsync(() => !lines.IsEmpty, TimeSpan.FromSeconds(60), "the initial load");

            // Silent while idle: the kept connection is found dead, and runs fail and are retried.
            relay.Paused = true;
            await Task.Delay(TimeSpan.FromSeconds(9));
            SyncFixture.Execute(path, "INSERT INTO note VALUES (1, 'during the partition')");
            await WaitUntilAsync(() => lines.Skip(1).Count(l => Parse(l).GetProperty("status").GetString() == "Failed") >= 2, TimeSpan.FromSeconds(30),
                "failed lines during the partition");
            var failed = Parse(lines.Skip(1).First());
            Assert.Equal("DbSync.TargetUnreachable", failed.GetProperty("errorId").GetString());
            Assert.True(failed.GetProperty("retryInSeconds").GetDouble() > 0);
            relay.Paused = false;
            await WaitUntilAsync(() => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".note WHERE id = 1") == 1, TimeSpan.FromSeconds(30),
                "the row once the network is back");

            // Silent during a run: SIGTERM stops the watch within seconds all the same.
            relay.Paused = true;
            SyncFixture.Execute(path, "INSERT INTO note VALUES (2, 'cut off')");
            await Task.Delay(1500);
            await SignalAsync(process, "TERM");
            var clock = Stopwatch.StartNew();
            Assert.True(process.WaitForExit(20_000), "the watch was still running 20 s after SIGTERM");
            output.WriteLine($"stopped {clock.Elapsed.TotalSeconds:0.0} s after SIGTERM");
            await reader;
            Assert.Equal(0, process.ExitCode);
            Assert.Equal("Cancelled", Parse(lines.Last()).GetProperty("status").GetString());
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }
}
