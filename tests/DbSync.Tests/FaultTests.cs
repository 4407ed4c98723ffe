using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace DbSync.Tests;

/// <summary>
/// What really happens to a sync tool: processes killed mid-run while another program writes, the server going
/// away, locked, read-only and full disks. Each ends in a clear error or a retry, and the next run completes with
/// every table identical. DBSYNC_LONG_FAULTS=1 runs the long mode (200 kill points instead of 20).
/// </summary>
public sealed class FaultTests(ITestOutputHelper output) : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private const string StreamSchema = """
        CREATE TABLE stream (id INTEGER PRIMARY KEY, label TEXT NOT NULL, amount REAL);
        CREATE TABLE stream_item (stream_id INTEGER NOT NULL REFERENCES stream (id), n INTEGER NOT NULL, note TEXT, PRIMARY KEY (stream_id, n));
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000)
        INSERT INTO stream SELECT i, 'row ' || i, i * 0.5 FROM s;
        INSERT INTO stream_item SELECT id, 1, 'first' FROM stream WHERE id % 3 = 0;
        CREATE TABLE bulk (id INTEGER PRIMARY KEY, note TEXT, at DATETIME);
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40000)
        INSERT INTO bulk SELECT i, 'note ' || i, datetime('2020-01-01', '+' || i || ' minutes') FROM s;
        """;

    private int Seed(string name)
    {
        var text = Environment.GetEnvironmentVariable("DBSYNC_TEST_SEED");
        var seed = text is null ? Environment.TickCount & 0x7FFFFFFF : int.Parse(text, CultureInfo.InvariantCulture);
        output.WriteLine($"{name}: seed {seed} (replay with DBSYNC_TEST_SEED={seed})");
        return seed;
    }

    internal static Process StartDotnet(string dll, IEnumerable<string> arguments, string? user = null)
    {
        var start = new ProcessStartInfo(user is null ? "dotnet" : "runuser") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (user is not null)
        {
            foreach (var arg in new[] { "-u", user, "--", "env", "DOTNET_CLI_HOME=/tmp", "HOME=/tmp", "DOTNET_NOLOGO=1", "dotnet" })
            {
                start.ArgumentList.Add(arg);
            }
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    private string[] SyncArgs(string path) => ["sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--json"];

    /// <summary>Syncs the file as the unprivileged user 'nobody' (tests run as root, which ignores file modes).</summary>
    private async Task<(int ExitCode, string Stdout, string Stderr)> SyncAsNobodyAsync(string path)
    {
        using var sync = StartDotnet("dbsync.dll", SyncArgs(path), user: "nobody");
        var stdout = await sync.StandardOutput.ReadToEndAsync();
        var stderr = await sync.StandardError.ReadToEndAsync();
        await sync.WaitForExitAsync();
        output.WriteLine(stdout + stderr);
        return (sync.ExitCode, stdout, stderr);
    }

    /// <summary>Read and write for owner, group and others.</summary>
    private const UnixFileMode ReadWriteForAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    [Fact]
    public void A_table_gone_while_a_run_reads_it_is_said_to_be_another_programs_schema_change()
    {
        // Capture exploration 2, F4's minor part: a table an ORM's migration dropped between the run's reading of the
        // schema and of its rows failed with SQLite's bare "no such table".
        var path = _fixture.CreateDatabase("CREATE TABLE kept (id INTEGER PRIMARY KEY);");
        using var connection = SyncFixture.OpenSqlite(path);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM new_item";
        var raw = Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => command.ExecuteReader());

        var translated = DbSync.Core.Source.SourceDatabase.Translate(raw, path);

        Assert.Equal(ErrorIds.SourceError, translated.ErrorId);
        Assert.Contains("no such table: new_item'. If another program was changing the file's tables at the time", translated.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kill_minus_9_at_random_points_while_another_process_writes_loses_and_duplicates_nothing()
    {
        var path = _fixture.CreateDatabase(StreamSchema);
        var random = new Random(Seed(nameof(Kill_minus_9_at_random_points_while_another_process_writes_loses_and_duplicates_nothing)));
        var points = Environment.GetEnvironmentVariable("DBSYNC_LONG_FAULTS") == "1" ? 200 : 20;
        var stopFile = Path.Combine(_fixture.Directory, "stop-writer");
        using var writer = StartDotnet("DbSync.TestWriter.dll", [path, random.Next().ToString(CultureInfo.InvariantCulture), stopFile]);
        var killed = 0;
        var completed = 0;
        var busy = 0;
        try
        {
            for (var point = 0; point < points; point++)
            {
                // Points 0-2 kill the initial load, point 3 lets it complete, later points kill pushes anywhere. Every
                // tenth run is let finish, so that the writer's backlog does not grow until no run can end before its kill
                // (kills would then never land between PostgreSQL's commit and the file's bookkeeping).
                var delay = point == 3 || point % 10 == 9 ? 120_000 : random.Next(30, point < 3 ? 1800 : 1500);
                using var sync = StartDotnet("dbsync.dll", SyncArgs(path));
                var finished = sync.WaitForExit(delay);
                if (!finished)
                {
                    sync.Kill(entireProcessTree: true);
                    killed++;
                }
                else
                {
                    completed++;
                }

                await sync.WaitForExitAsync();
                if (writer.HasExited)
                {
                    Assert.Fail($"the writer died with exit code {writer.ExitCode}: {await writer.StandardOutput.ReadToEndAsync()} {await writer.StandardError.ReadToEndAsync()}");
                }
                // A run that was not killed ends in success, or, while the writer holds the file, in one of the
                // documented clean errors for a locked file (nothing lost: its changes stay pending). Never a crash.
                if (finished && sync.ExitCode != 0)
                {
                    var json = await sync.StandardOutput.ReadToEndAsync();
                    Assert.True(sync.ExitCode == 1 && (json.Contains("\"errorId\":\"DbSync.SourceBusy\"", StringComparison.Ordinal)
                        || json.Contains("\"errorId\":\"DbSync.BookkeepingFailed\"", StringComparison.Ordinal)),
                        $"a run exited {sync.ExitCode}: {json} {await sync.StandardError.ReadToEndAsync()}");
                    busy++;
                }
            }
        }
        finally
        {
            await File.WriteAllTextAsync(stopFile, "stop");
            await writer.WaitForExitAsync();
        }

        var commits = (await writer.StandardOutput.ReadToEndAsync()).Trim();
        output.WriteLine($"{points} kill points, {killed} runs killed, {completed} completed ({busy} of them refused a lock the writer held), the writer committed {commits} transactions");
        Assert.True(killed >= points / 2 && completed >= 1, $"{killed} of {points} runs killed, {completed} completed: the kill points did not spread over runs");
        Assert.True(int.Parse(commits, CultureInfo.InvariantCulture) > points, "the writer barely ran");

        var final = await _fixture.SyncAsync(path);
        var held = await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path });
        // This file is PostgreSQL's only writer: any conflict recorded would be a run taking its own work for another's.
        var conflicts = await new SyncEngine().GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path, Last = 1000 });
        Assert.True(conflicts.Count == 0, $"{conflicts.Count} conflicts recorded: {string.Join("; ", conflicts.Take(20).Select(c => $"{c.Table} {c.Key} {c.Kind} run {c.RunId}"))}");
        Assert.True(final.Status == SyncStatus.Succeeded,
            $"{final.Status}: {string.Join("; ", final.Tables.Select(t => $"{t.Name} {t.Status} {t.ErrorId} {t.Message} conflicts {t.Conflicts}/{t.ConflictsResolved} held {t.Quarantined}"))}; " +
            $"held: {string.Join("; ", held.Select(h => $"{h.Table} {h.Key} {h.Kind} {h.Reason}"))}");
        TableComparer.AssertIdentical(path, _fixture.Schema);
        AssertNoPassword(File.ReadAllText(path + "-dbsync-log.jsonl"));
    }

    [Theory]
    [InlineData("DELETE")]
    [InlineData("WAL")]
    public async Task Runs_get_the_write_lock_from_a_process_that_commits_back_to_back(string journalMode)
    {
        // The writer holds its write lock from its first statement to its commit and takes it again microseconds
        // later. Each of a run's write transactions (installing capture, marking changes synced) must win a gap well
        // within the busy timeout: SQLite's own busy handler, trying every 100 ms, often did not within 30 s.
        var path = _fixture.CreateDatabase($"PRAGMA journal_mode = {journalMode};" + StreamSchema);
        SyncRequest Request() => new()
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, BusyTimeout = TimeSpan.FromSeconds(2),
        };
        Assert.Equal(SyncStatus.Succeeded, (await new SyncEngine().SyncAsync(Request())).Status);
        var stopFile = Path.Combine(_fixture.Directory, "stop-writer");
        var seed = Seed(nameof(Runs_get_the_write_lock_from_a_process_that_commits_back_to_back));
        using var writer = StartDotnet("DbSync.TestWriter.dll", [path, seed.ToString(CultureInfo.InvariantCulture), stopFile]);
        var failures = new List<string>();
        var runs = 0;
        long pushed = 0;
        try
        {
            await Task.Delay(1000); // the writer is running
            var clock = Stopwatch.StartNew();
            while (runs < 8 && clock.Elapsed < TimeSpan.FromSeconds(12))
            {
                runs++;
                var started = clock.Elapsed;
                try
                {
                    var result = await new SyncEngine().SyncAsync(Request());
                    pushed += result.Inserted + result.Updated + result.Deleted;
                    Assert.Equal(SyncStatus.Succeeded, result.Status);
                }
                catch (DbSyncException ex)
                {
                    failures.Add($"run {runs}: {ex.ErrorId} after {(clock.Elapsed - started).TotalSeconds:0.0} s: {ex.Message}");
                }
            }

            Assert.False(writer.HasExited, "the writer died");
        }
        finally
        {
            await File.WriteAllTextAsync(stopFile, "stop");
            await writer.WaitForExitAsync();
        }

        output.WriteLine($"{journalMode}: {runs} runs pushed {pushed} rows while the writer committed {(await writer.StandardOutput.ReadToEndAsync()).Trim()} transactions");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        Assert.True(pushed > 0, "no run pushed the writer's changes");
        Assert.Equal(SyncStatus.Succeeded, (await new SyncEngine().SyncAsync(Request())).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    /// <summary>No output, message or log of a fault ever carries the password.</summary>
    private static void AssertNoPassword(params string?[] texts)
    {
        foreach (var text in texts)
        {
            Assert.DoesNotContain(TestServer.Password, text ?? "", StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PostgreSQL_stopped_in_the_middle_of_a_run_fails_it_cleanly_and_the_next_run_completes()
    {
        var (connection, directory) = TestServer.StartPrivate();
        try
        {
            var path = _fixture.CreateDatabase(StreamSchema);
            SyncFixture.Execute(path, "WITH RECURSIVE s(i) AS (SELECT 40001 UNION ALL SELECT i + 1 FROM s WHERE i < 300000) INSERT INTO bulk SELECT i, 'more ' || i, '2021-01-01 00:00:00' FROM s;");
            var request = new SyncRequest { Path = path, ConnectionString = connection, Schema = "faults" };
            var halted = false;
            var progress = new InlineProgress<SyncProgress>(p =>
            {
                if (!halted && p.Table == "bulk" && p.Rows > 50_000)
                {
                    halted = true;
                    TestServer.HaltPrivate(directory);
                }
            });

            var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => new SyncEngine().SyncAsync(request, progress));

            Assert.True(halted, "the server was never stopped mid-run");
            Assert.Contains(error.ErrorId, new[] { "DbSync.TargetUnreachable", "DbSync.TargetError" });
            output.WriteLine($"{error.ErrorId}: {error.Message}");
            // This server has a password of its own.
            var password = new Npgsql.NpgsqlConnectionStringBuilder(connection).Password!;
            Assert.DoesNotContain(password, error.Message + error + File.ReadAllText(path + "-dbsync-log.jsonl"), StringComparison.Ordinal);
            TestServer.ResumePrivate(directory);

            var next = await new SyncEngine().SyncAsync(request);
            Assert.Equal(SyncStatus.Succeeded, next.Status);
            Assert.Equal(300_000, next.Tables.Single(t => t.Name == "bulk").Inserted);
            var entries = await new SyncEngine().GetLogAsync(new LogQuery { Path = path });
            Assert.Equal(["Succeeded", "Failed"], entries.Select(e => e.Status.ToString()));
        }
        finally
        {
            TestServer.StopPrivate(directory);
        }
    }

    [Fact]
    public async Task A_cancel_while_a_server_that_accepted_the_connection_never_answers_ends_the_run_at_once()
    {
        // Module exploration F2: an ssh tunnel or a proxy whose backend is down accepts and never speaks; Npgsql gives
        // up only the TCP connect at a cancel, so Ctrl+C, SIGTERM and Stop-Job waited the whole connect Timeout (for
        // ever with Timeout=0), and the run was then logged Failed rather than Cancelled.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<System.Net.Sockets.TcpClient>();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                try
                {
                    accepted.Add(await silent.AcceptTcpClientAsync());
                }
                catch (Exception ex) when (ex is ObjectDisposedException or System.Net.Sockets.SocketException)
                {
                    return;
                }
            }
        });
        var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'a');");
        var connection = $"Host=127.0.0.1;Port={((System.Net.IPEndPoint)silent.LocalEndpoint).Port};Username=nobody;Password=x;Database=none;Timeout=0";
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();

        var run = new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = connection, Schema = "silent" }, null, cancel.Token);
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30))) == run;
        silent.Stop();
        accepted.ForEach(c => c.Dispose());

        Assert.True(finished, "the run still waited for the silent server 29 s after the cancel");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the cancel took {clock.Elapsed}");
        var logged = File.ReadAllLines(path + "-dbsync-log.jsonl").Select(l => JsonDocument.Parse(l).RootElement).Last();
        Assert.Equal("Cancelled", logged.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_cancel_while_the_commit_waits_for_a_missing_synchronous_standby_ends_the_run_recorded_as_committed()
    {
        // Target exploration F24: with synchronous_standby_names set and no standby connected, PostgreSQL commits locally
        // and waits for ever; the run's COMMIT was not cancellable, so SIGTERM and Ctrl+C left it hanging. A server of
        // its own: its setting would hold up every other test's commits.
        var (connection, directory) = TestServer.StartPrivate();
        try
        {
            var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'a'), (2, 'b');");
            var request = new SyncRequest { Path = path, ConnectionString = connection, Schema = "standby" };
            Assert.Equal(SyncStatus.Succeeded, (await new SyncEngine().SyncAsync(request)).Status);
            using (var admin = new NpgsqlConnection(connection))
            {
                admin.Open();
                using var command = new NpgsqlCommand("ALTER SYSTEM SET synchronous_standby_names = 'nobody'; SELECT pg_reload_conf(); ALTER DATABASE postgres SET synchronous_commit = on", admin);
                command.ExecuteNonQuery();
            }

            SyncFixture.Execute(path, "UPDATE item SET name = 'changed' WHERE id = 1");
            using var cancel = new CancellationTokenSource();
            var committing = false;
            var progress = new InlineProgress<SyncProgress>(p =>
            {
                if (p.Phase == SyncPhase.Committing && !committing)
                {
                    committing = true;
                    cancel.CancelAfter(TimeSpan.FromSeconds(2));
                }
            });

            var run = new SyncEngine().SyncAsync(request, progress, cancel.Token);
            var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))) == run;
            if (!finished)
            {
                // Lets the COMMIT go, so that the run and the server can end.
                using var admin = new NpgsqlConnection(connection);
                admin.Open();
                using var command = new NpgsqlCommand("ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()", admin);
                command.ExecuteNonQuery();
            }

            Assert.True(finished, "the run still waited for the standby 58 s after it was cancelled");
            var result = await run;
            Assert.Equal((SyncStatus.Succeeded, 1L), (result.Status, result.Updated));
            Assert.Contains(result.Warnings, w => w.Contains("synchronous replication", StringComparison.Ordinal) && w.Contains("recorded as committed", StringComparison.Ordinal));
            Assert.Equal(0, (await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path })).PendingChanges);
            using (var check = new NpgsqlConnection(connection))
            {
                check.Open();
                using var command = new NpgsqlCommand("SELECT name FROM standby.item WHERE id = 1", check);
                Assert.Equal("changed", command.ExecuteScalar());
            }
        }
        finally
        {
            TestServer.StopPrivate(directory);
        }
    }

    [Fact]
    public async Task A_commit_whose_answer_the_network_lost_is_found_committed_and_recorded_with_its_counts()
    {
        // Exit 1 means nothing was applied: a run whose COMMIT reached PostgreSQL said so, and logged 0/0/0.
        var (path, _) = await TenPendingUpdatesAsync(TimeSpan.FromSeconds(30));
        var real = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString);
        using var proxy = new CommitCuttingProxy(real.Host!, real.Port);
        var through = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Pooling = false };

        var result = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = through.ConnectionString, Schema = _fixture.Schema });

        Assert.True(proxy.Cut, "the proxy never saw the COMMIT");
        Assert.Equal((SyncStatus.Succeeded, 10L), (result.Status, result.Updated));
        Assert.Equal(10, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".stream WHERE label = 'changed'"));
        Assert.Equal(0, (await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path })).PendingChanges);
        var logged = (await new SyncEngine().GetLogAsync(new LogQuery { Path = path, Last = 1 })).Single();
        Assert.Equal((RunStatus.Succeeded, 10L), (logged.Status, logged.Updated));
        var next = await _fixture.SyncAsync(path);
        Assert.Equal((0L, 0L, 0L), (next.Inserted, next.Updated, next.Deleted));
    }

    [Fact]
    public async Task A_commit_whose_answer_was_lost_but_found_committed_sends_its_log_and_checks_the_clock_on_a_new_connection()
    {
        // Run log exploration, F6: the run succeeded, but went on with the broken connection: log.postgres false
        // ("Connection is not open") and, with --keep-days, "PostgreSQL's clock ... could not be read", nothing pruned.
        var (path, _) = await TenPendingUpdatesAsync(TimeSpan.FromSeconds(30));
        var real = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString);
        using var proxy = new CommitCuttingProxy(real.Host!, real.Port);
        var through = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Pooling = false };

        var result = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = through.ConnectionString, Schema = _fixture.Schema, KeepDays = 30 });

        Assert.True(proxy.Cut, "the proxy never saw the COMMIT");
        Assert.Equal((SyncStatus.Succeeded, 10L), (result.Status, result.Updated));
        Assert.True(result.Log is { Backup: true, Database: true, Postgres: true, Error: null }, result.Log.Error);
        Assert.Equal("Succeeded 10", _fixture.PgText($"SELECT concat_ws(' ', status, updated) FROM dbsync.runs WHERE run_id = '{result.RunId}'"));
    }

    [Fact]
    public async Task A_commit_that_reaches_postgresql_after_the_connection_broke_is_awaited_and_found_committed()
    {
        // The check on a new connection read the node's last run before PostgreSQL had the COMMIT, so the run said
        // Failed, nothing applied, and PostgreSQL committed it 3 s later (crash exploration, finding 3).
        var (path, _) = await TenPendingUpdatesAsync(TimeSpan.FromSeconds(30));
        var real = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString);
        using var proxy = new CommitCuttingProxy(real.Host!, real.Port, commitDelay: TimeSpan.FromSeconds(3));
        var through = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Pooling = false };

        var result = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = through.ConnectionString, Schema = _fixture.Schema });

        Assert.True(proxy.Cut, "the proxy never saw the COMMIT");
        Assert.Equal((SyncStatus.Succeeded, 10L), (result.Status, result.Updated));
        Assert.Equal(10, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".stream WHERE label = 'changed'"));
        var logged = (await new SyncEngine().GetLogAsync(new LogQuery { Path = path, Last = 1 })).Single();
        Assert.Equal((RunStatus.Succeeded, 10L), (logged.Status, logged.Updated));
    }

    [Fact]
    public async Task A_commit_whose_answer_was_lost_and_could_not_be_confirmed_gets_its_counts_from_the_next_run()
    {
        // Such a run was logged Failed 0/0/0, and the next run, which found PostgreSQL had committed it, applied nothing
        // and logged 0/0/0 too: the committed rows were counted nowhere.
        var (path, _) = await TenPendingUpdatesAsync(TimeSpan.FromSeconds(30));
        var real = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString);
        using var proxy = new CommitCuttingProxy(real.Host!, real.Port, refuseAfterCut: true);
        var through = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Pooling = false };

        var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = through.ConnectionString, Schema = _fixture.Schema }));

        Assert.True(proxy.Cut, "the proxy never saw the COMMIT");
        Assert.Equal(ErrorIds.TargetUnreachable, error.ErrorId);
        Assert.Equal(10, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".stream WHERE label = 'changed'"));
        var next = await _fixture.SyncAsync(path);
        Assert.Equal((0L, 0L, 0L), (next.Inserted, next.Updated, next.Deleted)); // PostgreSQL had them: nothing twice

        var logged = (await new SyncEngine().GetLogAsync(new LogQuery { Path = path })).Single(e => e.RunId == error.RunId);
        Assert.Equal((RunStatus.Failed, ErrorIds.TargetUnreachable, 10L), (logged.Status, logged.ErrorId, logged.Updated));
        Assert.Equal(10L, logged.Tables.Single(t => t.Name == "stream").Updated);
        Assert.NotNull(logged.FinishedAt);
        Assert.StartsWith("The connection to PostgreSQL broke while it committed this run", logged.Message, StringComparison.Ordinal);
        Assert.Contains($"PostgreSQL had committed it after all (the counts): run {next.RunId} found so", logged.Message, StringComparison.Ordinal);
        Assert.Equal("Failed 0 10 0 DbSync.TargetUnreachable", _fixture.PgText($"SELECT concat_ws(' ', status, inserted, updated, deleted, error_id) FROM dbsync.runs WHERE run_id = '{error.RunId}'"));
        var lastLine = File.ReadLines(path + "-dbsync-log.jsonl").Last(l => l.Contains(error.RunId.ToString()!, StringComparison.Ordinal));
        Assert.Equal(10, JsonDocument.Parse(lastLine).RootElement.GetProperty("updated").GetInt32());
    }

    [Fact]
    public async Task A_run_killed_after_PostgreSQL_committed_it_is_logged_Abandoned_with_the_counts_it_committed()
    {
        // It was logged Abandoned 0/0/0 in the file, the backup and dbsync.runs, and no run ever accounted for its rows.
        var path = _fixture.CreateDatabase(StreamSchema);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, """
            PRAGMA journal_mode = WAL;
            UPDATE bulk SET note = 'changed';
            UPDATE stream SET label = 'changed' WHERE id <= 10;
            INSERT INTO stream VALUES (5001, 'new', 1), (5002, 'new', 2);
            DELETE FROM stream_item WHERE stream_id IN (3, 6, 9);
            """);
        string? Local(string sql)
        {
            using var connection = SyncFixture.OpenSqlite(path);
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            return command.ExecuteScalar() as string;
        }

        var nodeId = Local("SELECT value FROM _dbsync_meta WHERE key = 'node_id'");
        using var locker = SyncFixture.OpenSqlite(path);
        using var sync = StartDotnet("dbsync.dll", [.. SyncArgs(path), "--busy-timeout", "120"]);
        // Once the run has logged itself Running, another program takes the write lock: in WAL mode the run still reads
        // the file and commits in PostgreSQL, then waits to record that; it is killed there.
        var clock = Stopwatch.StartNew();
        string? runId;
        while ((runId = Local("SELECT run_id FROM _dbsync_runs WHERE status = 'Running'")) is null)
        {
            if (sync.HasExited || clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                Assert.Fail($"the run never logged itself Running: {await sync.StandardOutput.ReadToEndAsync()} {await sync.StandardError.ReadToEndAsync()}");
            }

            await Task.Delay(2);
        }

        SyncFixture.Execute(locker, "BEGIN IMMEDIATE");
        while (_fixture.PgText($"SELECT last_run::text FROM dbsync.nodes WHERE node_id = '{nodeId}'") != runId)
        {
            if (sync.HasExited || clock.Elapsed > TimeSpan.FromSeconds(120))
            {
                Assert.Fail($"the run did not commit in PostgreSQL: {await sync.StandardOutput.ReadToEndAsync()} {await sync.StandardError.ReadToEndAsync()}");
            }

            await Task.Delay(10);
        }

        sync.Kill(entireProcessTree: true);
        await sync.WaitForExitAsync();
        SyncFixture.Execute(locker, "ROLLBACK");

        var next = await _fixture.SyncAsync(path);
        Assert.Equal(SyncStatus.Succeeded, next.Status);
        Assert.Equal((0L, 0L, 0L), (next.Inserted, next.Updated, next.Deleted)); // PostgreSQL had them all: nothing twice
        TableComparer.AssertIdentical(path, _fixture.Schema);
        var killed = (await new SyncEngine().GetLogAsync(new LogQuery { Path = path })).Single(e => e.RunId.ToString() == runId);
        Assert.Equal((RunStatus.Abandoned, 2L, 40_010L, 3L), (killed.Status, killed.Inserted, killed.Updated, killed.Deleted));
        Assert.Equal((2L, 10L, 0L), killed.Tables.Where(t => t.Name == "stream").Select(t => (t.Inserted, t.Updated, t.Deleted)).Single());
        Assert.Contains($"run {next.RunId} recorded them", killed.Message, StringComparison.Ordinal);
        // The backup's last line of that run, the most final, which restore-log takes, and PostgreSQL's copy of the log say the same.
        var lastLine = File.ReadLines(path + "-dbsync-log.jsonl").Last(l => l.Contains(runId, StringComparison.Ordinal));
        using (var line = JsonDocument.Parse(lastLine))
        {
            Assert.Equal(("Abandoned", 2, 40_010, 3), (line.RootElement.GetProperty("status").GetString(), line.RootElement.GetProperty("inserted").GetInt32(),
                line.RootElement.GetProperty("updated").GetInt32(), line.RootElement.GetProperty("deleted").GetInt32()));
        }

        Assert.Equal("Abandoned 2 40010 3", _fixture.PgText($"SELECT concat_ws(' ', status, inserted, updated, deleted) FROM dbsync.runs WHERE run_id = '{runId}'"));
        // Restored into a file that has the run only as Abandoned without counts, the backup fills them in.
        var copy = Path.Combine(_fixture.Directory, "restored.sqlite");
        SyncFixture.Execute(path, $"VACUUM INTO '{copy}'");
        SyncFixture.Execute(copy, $"UPDATE _dbsync_runs SET inserted = 0, updated = 0, deleted = 0, message = NULL WHERE run_id = '{runId}'");
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = copy, BackupPath = path + "-dbsync-log.jsonl" });
        Assert.Equal(runId, Assert.Single(restored.Restored).RunId.ToString());
        Assert.Equal(40_010L, (await new SyncEngine().GetLogAsync(new LogQuery { Path = copy })).Single(e => e.RunId.ToString() == runId).Updated);
    }

    /// <summary>A loaded file with ten updates pending, and the request that pushes them with <paramref name="busyTimeout"/>.</summary>
    private async Task<(string Path, SyncRequest Request)> TenPendingUpdatesAsync(TimeSpan busyTimeout)
    {
        var path = _fixture.CreateDatabase(StreamSchema);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "UPDATE stream SET label = 'changed' WHERE id <= 10");
        return (path, new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, BusyTimeout = busyTimeout });
    }

    /// <summary>None of the ten updates reached PostgreSQL; the next run pushes all of them.</summary>
    private async Task AssertTheTenUpdatesArriveNextAsync(string path, SyncRequest request)
    {
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".stream WHERE label = 'changed'"));
        var next = await new SyncEngine().SyncAsync(request);
        Assert.Equal(10, next.Updated);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_file_locked_longer_than_the_busy_timeout_is_a_clear_error_and_nothing_is_lost()
    {
        var (path, request) = await TenPendingUpdatesAsync(TimeSpan.FromSeconds(4));

        using (var holder = SyncFixture.OpenSqlite(path))
        {
            SyncFixture.Execute(holder, "BEGIN EXCLUSIVE");
            var clock = Stopwatch.StartNew();
            var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => new SyncEngine().SyncAsync(request));
            Assert.Equal("DbSync.SourceBusy", error.ErrorId);
            // The run waits the busy timeout once, and not without end: the busy handler counts the time it spends, and
            // opening the file notices the lock (it used to let the next statement wait the whole timeout again).
            Assert.InRange(clock.Elapsed, request.BusyTimeout, request.BusyTimeout + TimeSpan.FromSeconds(3));
            AssertNoPassword(error.Message, error.ToString());

            // A busy timeout of 0 does not wait (Microsoft.Data.Sqlite's 0 would have meant waiting for ever).
            clock.Restart();
            var now = await Assert.ThrowsAnyAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, BusyTimeout = TimeSpan.Zero }).WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Equal("DbSync.SourceBusy", now.ErrorId);
            Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(4));
            SyncFixture.Execute(holder, "ROLLBACK");
        }

        await AssertTheTenUpdatesArriveNextAsync(path, request);
    }

    [Theory]
    [InlineData("EXCLUSIVE")] // even reading waits: the run waits while opening the file
    [InlineData("IMMEDIATE")] // a writer mid-transaction: the run waits to install capture
    public async Task A_cancel_ends_a_wait_for_another_programs_lock_at_once_and_nothing_is_lost(string lockKind)
    {
        var (path, request) = await TenPendingUpdatesAsync(TimeSpan.FromSeconds(60));

        using (var holder = SyncFixture.OpenSqlite(path))
        {
            SyncFixture.Execute(holder, $"BEGIN {lockKind}");
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            var clock = Stopwatch.StartNew();
            var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new SyncEngine().SyncAsync(request, null, cancel.Token).WaitAsync(TimeSpan.FromSeconds(90)));
            // The busy timeout is 60 s: the wait ended at the cancel, not at the timeout.
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
            Assert.IsType<RunCancelledException>(error);
            SyncFixture.Execute(holder, "ROLLBACK");
        }

        await AssertTheTenUpdatesArriveNextAsync(path, request);
    }

    [Theory]
    [InlineData("enable", "EXCLUSIVE")]
    [InlineData("enable", "IMMEDIATE")]
    [InlineData("disable", "EXCLUSIVE")]
    [InlineData("disable", "IMMEDIATE")]
    [InlineData("reset-node", "EXCLUSIVE")]
    [InlineData("reset-node", "IMMEDIATE")]
    public async Task Enable_disable_and_reset_node_wait_their_busy_timeout_once_and_a_cancel_ends_the_wait(string command, string lockKind)
    {
        var path = _fixture.CreateDatabase(StreamSchema);
        if (command != "enable")
        {
            await new SyncEngine().EnableAsync(new EnableRequest { Path = path });
        }

        var before = SyncFixture.Hash(path);
        Task Run(TimeSpan busy, CancellationToken token) => command switch
        {
            "enable" => new SyncEngine().EnableAsync(new EnableRequest { Path = path, BusyTimeout = busy }, token),
            "disable" => new SyncEngine().DisableAsync(new DisableRequest { Path = path, BusyTimeout = busy }, token),
            _ => new SyncEngine().ResetNodeAsync(new ResetNodeRequest { Path = path, BusyTimeout = busy }, token),
        };

        using (var holder = SyncFixture.OpenSqlite(path))
        {
            SyncFixture.Execute(holder, $"BEGIN {lockKind}");
            await AssertBusyTimeoutAndCancelAsync(Run, busyTimeout: true, TimeSpan.FromSeconds(10));
            SyncFixture.Execute(holder, "ROLLBACK");
        }

        Assert.Equal(before, SyncFixture.Hash(path));
        await Run(TimeSpan.FromSeconds(2), default);
        Assert.NotEqual(before, SyncFixture.Hash(path));
    }

    [Theory]
    [InlineData("quarantine")]
    [InlineData("log")]
    [InlineData("status")]
    public async Task Reading_commands_end_a_wait_for_another_programs_lock_at_a_cancel_and_quarantine_honours_its_busy_timeout(string command)
    {
        // The quarantine read waited a fixed 30 s whatever --busy-timeout said, and none of these stopped at Ctrl+C or
        // Stop-Job until the lock went (PowerShell exploration, S3).
        var path = _fixture.CreateDatabase(StreamSchema);
        await new SyncEngine().EnableAsync(new EnableRequest { Path = path });
        Task Run(TimeSpan busy, CancellationToken token) => command switch
        {
            "quarantine" => new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path, BusyTimeout = busy }, token),
            "log" => new SyncEngine().GetLogAsync(new LogQuery { Path = path }, token),
            _ => new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path }, token),
        };

        using var holder = SyncFixture.OpenSqlite(path);
        SyncFixture.Execute(holder, "BEGIN EXCLUSIVE");
        await AssertBusyTimeoutAndCancelAsync(Run, busyTimeout: command == "quarantine", TimeSpan.FromSeconds(3));
        SyncFixture.Execute(holder, "ROLLBACK");
    }

    /// <summary>
    /// While another program holds the file's lock: a 2 s busy timeout fails with DbSync.SourceBusy after 2 to 5 s (when
    /// <paramref name="busyTimeout"/>: the command takes one); and a 60 s one, cancelled after 1 s (Ctrl+C, Stop-Job),
    /// ends as cancelled within <paramref name="cancelledWithin"/>, not as a failure.
    /// </summary>
    private static async Task AssertBusyTimeoutAndCancelAsync(Func<TimeSpan, CancellationToken, Task> run, bool busyTimeout, TimeSpan cancelledWithin)
    {
        var clock = Stopwatch.StartNew();
        if (busyTimeout)
        {
            var busy = await Assert.ThrowsAsync<DbSyncException>(() => run(TimeSpan.FromSeconds(2), default).WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Equal("DbSync.SourceBusy", busy.ErrorId);
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5));
        }

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        clock.Restart();
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run(TimeSpan.FromSeconds(60), cancel.Token).WaitAsync(TimeSpan.FromSeconds(90)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), cancelledWithin);
        Assert.Equal(cancel.Token, cancelled.CancellationToken);
    }

    [Fact]
    public async Task A_missing_password_is_an_authentication_failure_naming_where_a_password_comes_from_not_an_unreachable_server()
    {
        // It was DbSync.TargetUnreachable, "cannot be reached", and test said to check host, port and firewalls
        // (PowerShell exploration, S4): the commonest mistake of a scheduled job, which lacks the shell's PGPASSWORD.
        var path = _fixture.CreateDatabase(StreamSchema);
        // An empty pgpass file: no password from there either, whatever the machine's ~/.pgpass holds.
        var passfile = Path.Combine(_fixture.Directory, "empty-pgpass");
        await File.WriteAllTextAsync(passfile, "");
        var noPassword = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Password = null, Passfile = passfile }.ConnectionString;
        async Task<JsonDocument> RunAsync(params string[] arguments)
        {
            // A process of its own, without PGPASSWORD: this process's environment is shared by tests running in parallel.
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dbsync.dll"));
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment.Remove("PGPASSWORD");
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.Equal(1, process.ExitCode);
            return JsonDocument.Parse(output);
        }

        using (var sync = await RunAsync("sync", "--path", path, "--connection", noPassword, "--schema", _fixture.Schema, "--json"))
        {
            Assert.Equal("DbSync.AuthenticationFailed", sync.RootElement.GetProperty("errorId").GetString());
            var message = sync.RootElement.GetProperty("message").GetString()!;
            Assert.Contains("asks for a password and none was given", message, StringComparison.Ordinal);
            Assert.Contains("PGPASSWORD", message, StringComparison.Ordinal);
        }

        // A Passfile that is not there is a mistake in the connection string, not an unreachable server.
        using (var missing = await RunAsync("sync", "--path", path, "--connection", noPassword.Replace("empty-pgpass", "no-such-pgpass", StringComparison.Ordinal), "--json"))
        {
            Assert.Equal("DbSync.InvalidConnectionString", missing.RootElement.GetProperty("errorId").GetString());
            Assert.Contains("no-such-pgpass' that the connection string names (Passfile) does not exist", missing.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // Also when the string has a password, which leaves the Passfile unused (was: not reported at all), and `test`
        // files it under the connection string.
        var withPassword = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Passfile = Path.Combine(_fixture.Directory, "no-such-pgpass") }.ConnectionString;
        using (var both = await RunAsync("sync", "--path", path, "--connection", withPassword, "--schema", _fixture.Schema, "--json"))
        {
            Assert.Equal("DbSync.InvalidConnectionString", both.RootElement.GetProperty("errorId").GetString());
        }

        using (var preflight = await RunAsync("test", "--path", path, "--connection", withPassword, "--schema", _fixture.Schema, "--json"))
        {
            var parsed = preflight.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
            Assert.Equal(("Fail", "DbSync.InvalidConnectionString"), (parsed["Target.ConnectionString"].GetProperty("status").GetString(), parsed["Target.ConnectionString"].GetProperty("errorId").GetString()));
        }

        using var test = await RunAsync("test", "--path", path, "--connection", noPassword, "--schema", _fixture.Schema, "--json");
        var checks = test.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        Assert.Equal("Pass", checks["Target.Reachable"].GetProperty("status").GetString());
        Assert.Equal("DbSync.AuthenticationFailed", checks["Target.Authentication"].GetProperty("errorId").GetString());
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_read_only_file_is_a_clear_error_for_a_user_who_cannot_write_it()
    {
        // Tests run as root, which ignores file modes: the run goes through runuser as an unprivileged user.
        var path = _fixture.CreateDatabase(StreamSchema);
        File.SetUnixFileMode(_fixture.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute | UnixFileMode.OtherWrite | UnixFileMode.StickyBit);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var before = SyncFixture.Hash(path);

        var (exitCode, stdout, stderr) = await SyncAsNobodyAsync(path);
        Assert.Equal(1, exitCode);
        Assert.Contains("\"errorId\":\"DbSync.SourceReadOnly\"", stdout, StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));
        Assert.False(_fixture.SchemaExists());
        Assert.DoesNotContain(TestServer.Password, stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_lock_file_another_account_created_does_not_lock_out_an_account_that_may_write_the_database()
    {
        // Ops exploration F2: the lock file was opened for writing, so the one a first account's run created (0644 under
        // its umask) failed every later run of any other account with "Cannot create the lock file", though that account
        // may write the database and its folder (a service's cron job after an administrator's manual run).
        var folder = Path.Combine(_fixture.Directory, "shared");
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(_fixture.Directory, File.GetUnixFileMode(_fixture.Directory) | UnixFileMode.OtherExecute);
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');", "shared/f.sqlite");
        File.SetUnixFileMode(folder, ReadWriteForAll | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(path, ReadWriteForAll);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        File.SetUnixFileMode(RunLock.LockPathFor(path), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        SyncFixture.Execute(path, "INSERT INTO t VALUES (2, 'by the service')");

        var (exitCode, stdout, stderr) = await SyncAsNobodyAsync(path);
        Assert.True(exitCode == 0, $"exit {exitCode}: {stdout} {stderr}");
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t WHERE v = 'by the service'"));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_folder_that_refuses_sqlites_wal_files_is_named_not_the_file()
    {
        // Ops exploration F8: a WAL-mode file the account may write, in a folder it may not: SQLite cannot create the
        // -wal and -shm files, and the error blamed the file ("attempt to write a readonly database").
        var folder = Path.Combine(_fixture.Directory, "closed");
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(_fixture.Directory, File.GetUnixFileMode(_fixture.Directory) | UnixFileMode.OtherExecute);
        var path = _fixture.CreateDatabase("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');", "closed/f.sqlite");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, "INSERT INTO t VALUES (2, 'b')");
        SqliteCleanup();
        foreach (var file in Directory.GetFiles(folder))
        {
            File.SetUnixFileMode(file, ReadWriteForAll);
        }

        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        var (exitCode, stdout, stderr) = await SyncAsNobodyAsync(path);
        Assert.Equal(1, exitCode);
        Assert.Contains("\"errorId\":\"DbSync.SourceReadOnly\"", stdout, StringComparison.Ordinal);
        Assert.Contains($"its folder '{folder}' does not let the account that runs DbSync create files", stdout, StringComparison.Ordinal);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_lock_file_that_cannot_be_created_is_a_clear_error_at_once_not_a_lock_timeout()
    {
        // Every failure to open the lock file was taken for another run holding it: a read-only file system, a name too
        // long for it or a link loop waited the whole lock timeout and then blamed a run that did not exist.
        var looped = _fixture.CreateDatabase(StreamSchema);
        File.CreateSymbolicLink(RunLock.LockPathFor(looped), RunLock.LockPathFor(looped));
        var longName = _fixture.CreateDatabase(StreamSchema, new string('n', 241) + ".db");
        foreach (var path in new[] { looped, longName })
        {
            var before = SyncFixture.Hash(path);
            var clock = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest
            {
                Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, LockTimeout = TimeSpan.FromSeconds(30),
            }));
            output.WriteLine(error.Message);
            Assert.Equal(ErrorIds.SourceError, error.ErrorId);
            Assert.Contains(RunLock.LockPathFor(path), error.Message, StringComparison.Ordinal);
            Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15));
            Assert.Equal(before, SyncFixture.Hash(path));
        }

        Assert.False(_fixture.SchemaExists());
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task The_preflight_fails_source_writable_for_a_read_only_file_and_for_a_folder_it_cannot_write()
    {
        // SQLite opens a file it may not write read-only without a word and locks it all the same: the check passed,
        // and the sync then failed with SourceReadOnly.
        var open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(_fixture.Directory, open | UnixFileMode.OtherWrite);
        var readOnlyFile = _fixture.CreateDatabase(StreamSchema, "ro.sqlite");
        File.SetUnixFileMode(readOnlyFile, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var writable = _fixture.CreateDatabase(StreamSchema, "rw.sqlite");
        File.SetUnixFileMode(writable, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        var folder = Path.Combine(_fixture.Directory, "closed");
        Directory.CreateDirectory(folder);
        var inClosedFolder = Path.Combine(folder, "f.sqlite");
        File.Copy(writable, inClosedFolder);
        File.SetUnixFileMode(inClosedFolder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        File.SetUnixFileMode(folder, open);

        async Task<JsonElement> WritableCheckAsync(string path)
        {
            using var test = StartDotnet("dbsync.dll", ["test", "--path", path, "--json"], user: "nobody");
            var stdout = await test.StandardOutput.ReadToEndAsync();
            await test.WaitForExitAsync();
            output.WriteLine(stdout);
            using var json = JsonDocument.Parse(stdout);
            return json.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "Source.Writable").Clone();
        }

        foreach (var (path, says) in new[] { (readOnlyFile, "is read-only"), (inClosedFolder, "cannot be written") })
        {
            var check = await WritableCheckAsync(path);
            Assert.Equal(("Fail", "DbSync.SourceReadOnly"), (check.GetProperty("status").GetString(), check.GetProperty("errorId").GetString()));
            Assert.Contains(says, check.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal("Pass", (await WritableCheckAsync(writable)).GetProperty("status").GetString());
        Assert.Equal(["ro.sqlite", "rw.sqlite"], Directory.GetFiles(_fixture.Directory).Select(Path.GetFileName).Where(n => n!.EndsWith(".sqlite", StringComparison.Ordinal)).Order());
        Assert.Empty(Directory.GetFiles(_fixture.Directory, ".dbsync-probe-*"));
    }

    [Fact]
    public async Task A_full_disk_while_recording_bookkeeping_is_a_clear_error_and_the_next_run_completes()
    {
        var mount = Path.Combine(_fixture.Directory, "small-disk");
        Directory.CreateDirectory(mount);
        Run("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount);
        try
        {
            var path = Path.Combine(mount, "node.sqlite");
            File.Copy(_fixture.CreateDatabase(StreamSchema, "seed.sqlite"), path);
            var request = new SyncRequest
            {
                Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, BusyTimeout = TimeSpan.FromSeconds(2),
                LogPath = Path.Combine(_fixture.Directory, "log.jsonl"),
            };
            await new SyncEngine().SyncAsync(request);
            SyncFixture.Execute(path, "UPDATE bulk SET note = note || ' changed' WHERE id % 2 = 0");
            var filler = Path.Combine(mount, "filler");
            var progress = new InlineProgress<SyncProgress>(p =>
            {
                // Once PostgreSQL is being written, the disk under the SQLite file fills up.
                if (p.Phase == SyncPhase.Applying && !File.Exists(filler))
                {
                    using var fill = new FileStream(filler, FileMode.Create);
                    var block = new byte[64 * 1024];
                    try
                    {
                        while (true)
                        {
                            fill.Write(block);
                            fill.Flush();
                        }
                    }
                    catch (IOException)
                    {
                        // Full.
                    }
                }
            });

            var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => new SyncEngine().SyncAsync(request, progress));

            output.WriteLine($"{error.ErrorId}: {error.Message}");
            Assert.Equal("DbSync.BookkeepingFailed", error.ErrorId);
            AssertNoPassword(error.Message, error.ToString(), File.ReadAllText(Path.Combine(_fixture.Directory, "log.jsonl")));
            File.Delete(filler);
            var next = await new SyncEngine().SyncAsync(request);
            Assert.Equal(SyncStatus.Succeeded, next.Status);
            TableComparer.AssertIdentical(path, _fixture.Schema);
        }
        finally
        {
            SqliteCleanup();
            Run("umount", "-l", mount);
        }
    }

    private static void SqliteCleanup() => Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

    private static void Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)}: {error}");
    }
}
