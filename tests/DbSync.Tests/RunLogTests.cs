using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.Json.Nodes;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace DbSync.Tests;

public sealed class RunLogTests(ITestOutputHelper output) : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static string Backup(string path) => path + "-dbsync-log.jsonl";

    private static List<JsonElement> BackupLines(string path) =>
        File.ReadAllLines(Backup(path)).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    /// <summary>A backup line with some fields changed.</summary>
    private static string With(string line, Action<JsonObject> change)
    {
        var json = JsonNode.Parse(line)!.AsObject();
        change(json);
        return json.ToJsonString();
    }

    private static Task<IReadOnlyList<RunLogEntry>> LogAsync(string path, int? last = null, RunStatus? status = null, DateTime? since = null) =>
        new SyncEngine().GetLogAsync(new LogQuery { Path = path, Last = last, Status = status, Since = since });

    [Fact]
    public async Task A_backup_whose_last_line_was_cut_short_keeps_the_next_runs_entry_whole()
    {
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path, "Genre")).Status);
        // What a crash or a full disk leaves: half a line, no newline.
        File.AppendAllText(Backup(path), "{\"runId\":\"0f1e");
        SyncFixture.Execute(path, "UPDATE Genre SET Name = Name || '!' WHERE GenreId = 1");

        var next = await _fixture.SyncAsync(path, "Genre");

        var lines = File.ReadAllLines(Backup(path)).ToList();
        var damaged = lines.IndexOf("{\"runId\":\"0f1e");
        Assert.True(damaged > 0, "the damaged line is no longer a line of its own");
        // Every entry after it is whole, the run's own among them.
        Assert.All(lines.Skip(damaged + 1), l => Assert.Equal(next.RunId.ToString(), JsonDocument.Parse(l).RootElement.GetProperty("runId").GetString()));
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, WhatIf = true });
        Assert.Single(restored.Invalid);
    }

    [Fact]
    public async Task A_backup_that_cannot_be_written_is_one_warning_and_the_run_still_succeeds_and_is_logged_in_the_file()
    {
        var path = _fixture.CopyChinook();
        var request = new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"], LogPath = _fixture.Directory,
        };

        var result = await new SyncEngine().SyncAsync(request);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.True(result.Log is { Backup: false, Database: true }, result.Log.Error);
        var warning = Assert.Single(result.Warnings, w => w.StartsWith("Run log:", StringComparison.Ordinal));
        Assert.Contains(_fixture.Directory, warning, StringComparison.Ordinal);
        Assert.Contains("it is a folder, and the backup is a file", warning, StringComparison.Ordinal);
        Assert.Equal(result.RunId, Assert.Single(await LogAsync(path)).RunId);
    }

    [Fact]
    public async Task A_run_that_ends_after_its_bookkeeping_before_its_final_entry_is_logged_Abandoned_with_the_counts_it_committed()
    {
        // A process killed between the file's bookkeeping transaction and its final log entry stayed Abandoned 0/0/0 for
        // good, in the file, the backup and dbsync.runs (interrupt exploration, F2): the file had recorded the commit, so
        // no later run took it for an unrecorded one. Here that moment is made to last: the backup is a folder (it takes
        // nothing), and a trigger in the file refuses every entry but a Running one, so the run's end is written nowhere.
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path, "Genre")).Status);
        SyncFixture.Execute(path, """
            UPDATE Genre SET Name = Name || '!' WHERE GenreId <= 3;
            INSERT INTO Genre (GenreId, Name) VALUES (900, 'new');
            CREATE TRIGGER refuse_ends BEFORE INSERT ON _dbsync_runs WHEN NEW.status <> 'Running' BEGIN SELECT RAISE(ABORT, 'no end'); END;
            """);
        var cut = await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"], LogPath = _fixture.Directory,
        });
        Assert.True(cut.Log is { Backup: false, Database: false }, cut.Log.Error);
        Assert.Equal((1L, 3L), (cut.Inserted, cut.Updated));
        using (var connection = SyncFixture.OpenSqlite(path))
        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"SELECT status FROM _dbsync_runs WHERE run_id = '{cut.RunId}'";
            Assert.Equal("Running", command.ExecuteScalar());
        }

        SyncFixture.Execute(path, "DROP TRIGGER refuse_ends");

        var next = await _fixture.SyncAsync(path, "Genre");

        Assert.Equal((SyncStatus.Succeeded, 0L, 0L), (next.Status, next.Inserted, next.Updated));
        var logged = (await LogAsync(path)).Single(e => e.RunId == cut.RunId);
        Assert.Equal((RunStatus.Abandoned, 1L, 3L, 0L), (logged.Status, logged.Inserted, logged.Updated, logged.Deleted));
        Assert.Equal((1L, 3L), logged.Tables.Where(t => t.Name == "Genre").Select(t => (t.Inserted, t.Updated)).Single());
        Assert.StartsWith("PostgreSQL committed this run's changes (the counts) and the file recorded them", logged.Message, StringComparison.Ordinal);
        var line = BackupLines(path).Last(l => l.GetProperty("runId").GetString() == cut.RunId.ToString());
        Assert.Equal(("Abandoned", 1, 3), (line.GetProperty("status").GetString(), line.GetProperty("inserted").GetInt32(), line.GetProperty("updated").GetInt32()));
        Assert.Equal("Abandoned 1 3 0", _fixture.PgText($"SELECT concat_ws(' ', status, inserted, updated, deleted) FROM dbsync.runs WHERE run_id = '{cut.RunId}'"));
    }

    [Fact]
    public async Task A_successful_run_is_logged_in_the_file_the_backup_and_postgresql()
    {
        var path = _fixture.CopyChinook();

        var result = await _fixture.SyncAsync(path, "Genre", "MediaType");

        Assert.True(result.Log is { Backup: true, Database: true, Postgres: true }, result.Log.Error);
        var entry = Assert.Single(await LogAsync(path));
        Assert.Equal(result.RunId, entry.RunId);
        Assert.Equal(RunStatus.Succeeded, entry.Status);
        Assert.Equal(result.NodeId, entry.NodeId);
        Assert.Equal(path, entry.Path);
        Assert.Equal(30, entry.Inserted);
        Assert.Equal(["Genre", "MediaType"], entry.Tables.Select(t => t.Name).Order());
        Assert.Equal(SyncEngine.Version, entry.Version);
        Assert.NotNull(entry.FinishedAt);
        Assert.StartsWith("127.0.0.1:", entry.Target, StringComparison.Ordinal);

        // The backup holds the start and the end of the run, the last line being the final state.
        var lines = BackupLines(path);
        Assert.Equal(["Running", "Succeeded"], lines.Select(l => l.GetProperty("status").GetString()));
        Assert.All(lines, l => Assert.Equal(result.RunId.ToString(), l.GetProperty("runId").GetString()));

        using var pg = TestServer.Open();
        using var command = new NpgsqlCommand("SELECT status, inserted, node_id FROM dbsync.runs WHERE run_id = $1", pg);
        command.Parameters.AddWithValue(result.RunId);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(("Succeeded", 30L, result.NodeId), (reader.GetString(0), reader.GetInt64(1), reader.GetString(2)));
    }

    [Fact]
    public async Task A_failed_run_is_logged_with_its_error_and_reaches_postgresql_on_a_later_run()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE p (id INTEGER PRIMARY KEY, amount NUMERIC(4,1)); INSERT INTO p VALUES (1, 0.5);");
        _fixture.PgExecute($"CREATE SCHEMA \"{_fixture.Schema}\"; CREATE TABLE \"{_fixture.Schema}\".p (id bigint PRIMARY KEY)");

        var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => _fixture.SyncAsync(path));

        var failed = Assert.Single(await LogAsync(path));
        Assert.Equal((error.RunId, RunStatus.Failed, "DbSync.SchemaMismatch"), ((Guid?)failed.RunId, failed.Status, failed.ErrorId));
        Assert.Contains("'amount'", failed.Message, StringComparison.Ordinal);
        Assert.Equal("Failed", BackupLines(path)[^1].GetProperty("status").GetString());

        _fixture.PgExecute($"ALTER TABLE \"{_fixture.Schema}\".p ADD COLUMN amount numeric(4,1)");
        var ok = await _fixture.SyncAsync(path);

        Assert.True(ok.Log.Postgres);
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM dbsync.runs WHERE run_id IN ('{failed.RunId}', '{ok.RunId}')"));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM dbsync.runs WHERE run_id = '{failed.RunId}' AND error_id = 'DbSync.SchemaMismatch'"));
    }

    [Fact]
    public async Task An_attempt_that_fails_before_opening_the_database_is_in_the_backup_only()
    {
        var notSqlite = Path.Combine(_fixture.Directory, "notes.txt");
        File.WriteAllText(notSqlite, "not a database");
        var deleted = _fixture.CopyChinook();
        await _fixture.SyncAsync(deleted, "Genre");
        File.Delete(deleted);

        await Assert.ThrowsAnyAsync<DbSyncException>(() => _fixture.SyncAsync(notSqlite));
        var gone = await Assert.ThrowsAnyAsync<DbSyncException>(() => _fixture.SyncAsync(deleted));

        Assert.Equal("not a database", File.ReadAllText(notSqlite));
        Assert.Equal("DbSync.SourceNotSqlite", Assert.Single(BackupLines(notSqlite)).GetProperty("errorId").GetString());
        // A file that had a backup keeps the history of its absence.
        Assert.Equal(gone.RunId.ToString(), BackupLines(deleted)[^1].GetProperty("runId").GetString());
        Assert.Equal("DbSync.SourceNotFound", BackupLines(deleted)[^1].GetProperty("errorId").GetString());
    }

    [Fact]
    public async Task An_attempt_that_fails_before_it_starts_and_cannot_be_written_to_the_backup_says_so_and_names_no_run()
    {
        // Ops exploration F3: the failure object carried a runId the backup (its only record) never got, and nothing said
        // so; a script looking the attempt up with restore-log found nothing.
        var notSqlite = Path.Combine(_fixture.Directory, "notes.txt");
        File.WriteAllText(notSqlite, "not a database");
        var unwritable = Path.Combine(_fixture.Directory, "no-such-folder", "log.jsonl");

        var (code, stdout, stderr) = await CliTests.RunCliAsync("sync", "--path", notSqlite, "--connection", TestServer.ConnectionString,
            "--schema", _fixture.Schema, "--log-path", unwritable, "--json");

        Assert.True(code == 1, $"exit {code}: {stdout} {stderr}");
        var failure = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("DbSync.SourceNotSqlite", failure.GetProperty("errorId").GetString());
        Assert.False(failure.TryGetProperty("runId", out _), stdout);
        Assert.Contains($"This attempt is recorded nowhere: the backup '{unwritable}' could not be written", failure.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(File.Exists(unwritable));
    }

    [Fact]
    public async Task A_backup_path_naming_a_sqlite_database_never_writes_into_it()
    {
        // Ops exploration F6: --log-path (or DBSYNC_LOG_PATH) naming the database itself appended JSON lines into it, and
        // --prune-backup then rewrote it as text and copied that back: the file was destroyed, the run said Succeeded.
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');");
        var other = _fixture.CreateDatabase("CREATE TABLE x (id INTEGER PRIMARY KEY); INSERT INTO x VALUES (1);", "other.sqlite");
        var before = SyncFixture.Hash(path);
        var otherBefore = SyncFixture.Hash(other);

        var (code, stdout, stderr) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString,
            "--schema", _fixture.Schema, "--log-path", path, "--keep-days", "0", "--prune-backup", "--json");

        Assert.True(code == 2, $"exit {code}: {stdout} {stderr}");
        var failure = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("DbSync.UsageError", failure.GetProperty("errorId").GetString());
        Assert.Contains("is the database itself", failure.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));
        Assert.False(_fixture.SchemaExists());

        // Another database named as the backup: the run syncs, says the backup was not written, and leaves it as it was,
        // a prune included.
        for (var run = 0; run < 2; run++)
        {
            (code, stdout, stderr) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString,
                "--schema", _fixture.Schema, "--log-path", other, "--keep-days", "0", "--prune-backup", "--json");

            Assert.True(code == 0, $"exit {code}: {stdout} {stderr}");
            var result = JsonDocument.Parse(stdout).RootElement;
            Assert.False(result.GetProperty("log").GetProperty("backup").GetBoolean());
            Assert.Contains(result.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("is a SQLite database", StringComparison.Ordinal));
            Assert.Equal(otherBefore, SyncFixture.Hash(other));
        }

        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t"));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_backup_path_naming_a_device_is_neither_written_nor_read()
    {
        // Ops exploration F9: --log-path /dev/null made '/dev/null.lock' (as root) and said backup: true; /dev/stdout mixed
        // the backup's lines into the JSON a script reads. A device, pipe or socket keeps nothing restore-log could read.
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
        File.Delete("/dev/null.lock");

        var (code, stdout, stderr) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString,
            "--schema", _fixture.Schema, "--log-path", "/dev/null", "--json");

        Assert.True(code == 0, $"exit {code}: {stdout} {stderr}");
        var result = JsonDocument.Parse(stdout).RootElement;
        Assert.False(result.GetProperty("log").GetProperty("backup").GetBoolean());
        Assert.Contains(result.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("'/dev/null' could not be written: it is not a regular file", StringComparison.Ordinal));
        Assert.False(File.Exists("/dev/null.lock"));
    }

    [Fact]
    public async Task A_mistyped_path_or_a_folder_leaves_no_backup_beside_it_unless_a_backup_was_named()
    {
        // Such an attempt wrote a new backup and its lock file beside whatever the path named: 'missing.sqlite-dbsync-log.jsonl',
        // a folder's 'DIR-dbsync-log.jsonl', even '/-dbsync-log.jsonl'.
        var missing = Path.Combine(_fixture.Directory, "missing.sqlite");
        var folder = Directory.CreateDirectory(Path.Combine(_fixture.Directory, "folder")).FullName;
        foreach (var path in new[] { missing, folder })
        {
            var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => _fixture.SyncAsync(path));
            Assert.Null(error.RunId);
        }

        Assert.Equal(["folder"], Directory.EnumerateFileSystemEntries(_fixture.Directory).Select(Path.GetFileName));

        var named = Path.Combine(_fixture.Directory, "shared-log.jsonl");
        var request = _fixture.Request(missing);
        var recorded = await Assert.ThrowsAnyAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = missing, ConnectionString = request.ConnectionString, Schema = request.Schema, LogPath = named,
        }));
        var line = JsonDocument.Parse(Assert.Single(File.ReadAllLines(named))).RootElement;
        Assert.Equal((recorded.RunId.ToString(), "DbSync.SourceNotFound"), (line.GetProperty("runId").GetString(), line.GetProperty("errorId").GetString()));
    }


    [Fact]
    public async Task DbSyncs_own_files_given_as_the_path_are_named_as_such_and_leave_no_backup_beside_them()
    {
        // Module exploration, F5: `Get-ChildItem DIR -File | Start-DbSync` also passed the lock file and the backup (and the
        // backup's lock) beside each database; each failed as not SQLite and got a backup and a lock file beside it, so the
        // folder's files doubled on every run.
        var path = _fixture.CopyChinook("shop.sqlite");
        var named = Path.Combine(_fixture.Directory, "all.jsonl");
        await _fixture.SyncAsync(path, "Genre");
        await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"], LogPath = named });
        File.WriteAllText(named + ".tmp", "");
        var files = Directory.GetFiles(_fixture.Directory).Order().ToList();
        Assert.Equal(7, files.Count);

        for (var run = 0; run < 2; run++)
        {
            foreach (var file in Directory.GetFiles(_fixture.Directory).Where(f => f != path && f != named))
            {
                var error = await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(file, "Genre"));
                Assert.Equal(ErrorIds.SourceNotSqlite, error.ErrorId);
                Assert.Null(error.RunId);
                Assert.Contains(file.EndsWith("-dbsync.lock", StringComparison.Ordinal) ? $"is DbSync's run lock file of '{path}'"
                    : file.EndsWith("-dbsync-log.jsonl", StringComparison.Ordinal) ? $"is DbSync's run log backup of '{path}'"
                    : file.EndsWith(".tmp", StringComparison.Ordinal) ? $"--prune-backup makes of the run log backup '{named}'"
                    : "is the lock file of DbSync's run log backup", error.Message, StringComparison.Ordinal);
            }
        }

        Assert.Equal(files, Directory.GetFiles(_fixture.Directory).Order());
    }

    [Fact]
    public async Task A_file_whose_name_looks_like_it_holds_a_password_has_its_backup_like_any_other()
    {
        // Run log exploration, F5: 'shop-pwd=2024.sqlite' was taken for a connection string given as the path: no backup
        // ("no database path was given"), so its attempts that failed before they started were recorded nowhere.
        var path = _fixture.CopyChinook("shop-pwd=2024.sqlite");

        var result = await _fixture.SyncAsync(path, "Genre");
        var failed = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = "Host=127.0.0.1;Bogus=1" }));

        Assert.True(result.Log is { Backup: true }, result.Log.Error);
        Assert.Equal(Backup(path), result.Log.BackupPath);
        var lines = BackupLines(path);
        Assert.Equal(failed.RunId.ToString(), lines[^1].GetProperty("runId").GetString());
        Assert.Equal(path, lines[^1].GetProperty("path").GetString());
    }

    [Fact]
    public async Task An_attempt_that_fails_before_opening_the_database_records_how_long_it_took()
    {
        // Such backup-only entries said durationMs 0, whatever the wait.
        var path = _fixture.CopyChinook();
        using (await RunLock.AcquireAsync(path, TimeSpan.Zero, default))
        {
            var request = _fixture.Request(path, "Genre");
            var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest
            {
                Path = path, ConnectionString = request.ConnectionString, Schema = request.Schema, LockTimeout = TimeSpan.FromSeconds(1),
            }));
            Assert.Equal(ErrorIds.LockTimeout, error.ErrorId);
        }

        var line = Assert.Single(BackupLines(path));
        var wall = line.GetProperty("finishedAt").GetDateTime() - line.GetProperty("startedAt").GetDateTime();
        Assert.InRange(line.GetProperty("durationMs").GetInt64(), 1000, 60_000);
        Assert.Equal((long)wall.TotalMilliseconds, line.GetProperty("durationMs").GetInt64());
    }

    [Fact]
    public async Task Database_locked_while_the_run_ends_leaves_the_entry_in_the_backup_and_restore_brings_it_back()
    {
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Artist");
        SyncFixture.Execute(path, "UPDATE Artist SET Name = Name || ' (remastered)' WHERE ArtistId <= 10");
        // Once rows are being applied in PostgreSQL, another program takes the file's write lock and keeps it.
        using var locker = new FileLocker(path, SyncPhase.Applying);
        var request = new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Artist"], BusyTimeout = TimeSpan.FromSeconds(1),
        };

        var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => new SyncEngine().SyncAsync(request, locker.Progress));
        locker.Release();

        Assert.Equal("DbSync.BookkeepingFailed", error.ErrorId);
        Assert.Equal(10, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".artist WHERE name LIKE '% (remastered)'"));
        // The failure carries what PostgreSQL committed, and the CLI's failure object prints it (run log exploration, F7).
        Assert.Equal((0L, 10L, 0L, "Artist"), (error.Committed!.Inserted, error.Committed.Updated, error.Committed.Deleted, Assert.Single(error.Committed.Tables).Name));
        var failure = new System.Text.Json.Nodes.JsonObject();
        DbSync.Cli.CliApp.AddCommitted(failure, error);
        Assert.Equal((0L, 10L, 0L, 0L), ((long)failure["inserted"]!, (long)failure["updated"]!, (long)failure["deleted"]!, (long)failure["quarantined"]!));
        var last = BackupLines(path)[^1];
        Assert.Equal(error.RunId.ToString(), last.GetProperty("runId").GetString());
        Assert.Equal("Failed", last.GetProperty("status").GetString());
        Assert.Equal(10, last.GetProperty("updated").GetInt64());
        // The database still holds the run as started only; log and status show it as the backup says it ended, with its
        // true counts (they showed it Abandoned with 0 rows until the next sync; run log exploration, finding 6), and a
        // filter on Failed finds it.
        var shown = (await LogAsync(path, last: 1)).Single();
        Assert.Equal((error.RunId, RunStatus.Failed, "DbSync.BookkeepingFailed", 10L), (shown.RunId, shown.Status, shown.ErrorId, shown.Updated));
        Assert.Equal(error.RunId, (await LogAsync(path, last: 1, status: RunStatus.Failed)).Single().RunId);
        Assert.Empty(await LogAsync(path, status: RunStatus.Abandoned));
        var status = await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path });
        Assert.Equal((RunStatus.Failed, 10L), (status.LastRun!.Status, status.LastRun.Updated));
        using (var sqlite = SyncFixture.OpenSqlite(path))
        using (var stored = sqlite.CreateCommand())
        {
            stored.CommandText = $"SELECT status FROM _dbsync_runs WHERE run_id = '{error.RunId}'";
            Assert.Equal("Running", stored.ExecuteScalar()); // log and status only read
        }

        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });

        Assert.Equal(error.RunId, Assert.Single(restored.Restored).RunId);
        var entry = (await LogAsync(path, last: 1)).Single();
        Assert.Equal((RunStatus.Failed, "DbSync.BookkeepingFailed", 10L), (entry.Status, entry.ErrorId, entry.Updated));

        // The changes stayed pending; the next run re-applies them and that changes nothing.
        var next = await _fixture.SyncAsync(path, "Artist");
        Assert.Equal((0L, 0L, 0L), (next.Inserted, next.Updated, next.Deleted));
        TableComparer.AssertIdentical(path, _fixture.Schema, ["Artist"]);
    }

    [Fact]
    public async Task Restore_validates_each_line_reports_reasons_and_changes_nothing_the_second_time()
    {
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        var good = BackupLines(path)[^1].GetRawText();
        var other = good.Replace(JsonDocument.Parse(good).RootElement.GetProperty("runId").GetString()!, Guid.NewGuid().ToString(), StringComparison.Ordinal);
        var third = good.Replace(JsonDocument.Parse(good).RootElement.GetProperty("runId").GetString()!, Guid.NewGuid().ToString(), StringComparison.Ordinal);
        var backup = Path.Combine(_fixture.Directory, "old.jsonl");
        File.WriteAllText(backup, string.Join("\n",
            good,                                             // 1: already in the database: skipped
            other,                                            // 2: missing: restored
            other,                                            // 3: duplicate of 2: skipped
            "{\"runId\": \"not-a-guid\", \"startedAt\": \"2024-01-01T00:00:00Z\", \"status\": \"Succeeded\", \"inserted\": 1, \"updated\": 0, \"deleted\": 0}",
            "{\"runId\": \"" + Guid.NewGuid() + "\", \"status\": \"Succeeded\", \"inserted\": 1, \"updated\": 0, \"deleted\": 0}",
            "{\"runId\": \"" + Guid.NewGuid() + "\", \"startedAt\": \"2024-01-01T00:00:00Z\", \"status\": \"Done\", \"inserted\": 1, \"updated\": 0, \"deleted\": 0}",
            "{\"runId\": \"" + Guid.NewGuid() + "\", \"startedAt\": \"2024-01-01T00:00:00Z\", \"status\": \"Failed\", \"inserted\": \"many\", \"updated\": 0, \"deleted\": 0}",
            "garbage \u0001 line",
            third,                                            // 9: missing: restored
            third[..(third.Length / 2)]));                    // 10: truncated by a crash mid-write

        var folder = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = _fixture.Directory }));
        Assert.Equal(ErrorIds.LogBackupNotFound, folder.ErrorId);
        Assert.Contains("is a folder", folder.Message, StringComparison.Ordinal);
        var preview = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = backup, WhatIf = true });
        Assert.Equal(2, preview.Restored.Count);
        Assert.Single(await LogAsync(path));

        var (code, stdout, _) = await CliTests.RunCliAsync("restore-log", "--path", path, "--backup", backup, "--json");

        Assert.Equal(0, code);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal((2, 2, 6), (json.GetProperty("restored").GetInt32(), json.GetProperty("skipped").GetInt32(), json.GetProperty("invalid").GetInt32()));
        var reasons = json.GetProperty("invalidLines").EnumerateArray().ToDictionary(l => l.GetProperty("line").GetInt32(), l => l.GetProperty("reason").GetString()!);
        Assert.Equal([4, 5, 6, 7, 8, 10], reasons.Keys.Order());
        Assert.Contains("not a GUID", reasons[4], StringComparison.Ordinal);
        Assert.Contains("'startedAt' is missing", reasons[5], StringComparison.Ordinal);
        Assert.Contains("'Done'", reasons[6], StringComparison.Ordinal);
        Assert.Contains("'inserted'", reasons[7], StringComparison.Ordinal);
        Assert.Contains("truncated", reasons[10], StringComparison.Ordinal);
        Assert.Equal(3, (await LogAsync(path)).Count);

        var again = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = backup });
        Assert.Empty(again.Restored);
        Assert.Equal(3, (await LogAsync(path)).Count);
    }

    [Theory]
    [InlineData("status", "succeeded")]
    [InlineData("started_at", "yesterday")]
    [InlineData("tables", "{")]
    [InlineData("run_id", "not-a-guid")]
    public async Task A_run_log_row_that_cannot_be_read_is_left_out_and_named_and_blocks_neither_log_nor_syncs(string column, string value)
    {
        // One row DbSync cannot parse (a hand edit with sqlite3, which "The run log" sends administrators to) made log
        // fail with DbSync.Unexpected, every later send to dbsync.runs fail ("sent on a later run", never), and, left
        // Running, every sync fail before it started (run log exploration, F1).
        var path = _fixture.CopyChinook();
        var first = await _fixture.SyncAsync(path, "Genre");
        var bad = Guid.NewGuid();
        SyncFixture.Execute(path, $"INSERT INTO _dbsync_runs (run_id, path, started_at, status, tables) VALUES ('{bad}', 'x', '2026-01-01T00:00:00.0000000Z', 'Failed', '[]')");
        SyncFixture.Execute(path, $"UPDATE _dbsync_runs SET {column} = '{value}' WHERE path = 'x'");
        var named = column == "run_id" ? "'not-a-guid'" : $"'{bad}'";

        var warnings = new List<string>();
        var entries = await new SyncEngine().GetLogAsync(new LogQuery { Path = path }, warnings);
        Assert.Equal([first.RunId], entries.Select(e => e.RunId));
        Assert.Contains(named, Assert.Single(warnings), StringComparison.Ordinal);
        var (code, stdout, stderr) = await CliTests.RunCliAsync("log", "--path", path, "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(1, JsonDocument.Parse(stdout).RootElement.GetProperty("runs").GetArrayLength());
        Assert.Contains($"warning: the run log row with run_id {named} in _dbsync_runs cannot be read", stderr, StringComparison.Ordinal);

        SyncFixture.Execute(path, "UPDATE Genre SET Name = Name || '!' WHERE GenreId = 1");
        var second = await _fixture.SyncAsync(path, "Genre");
        Assert.Equal((SyncStatus.Succeeded, 1L), (second.Status, second.Updated));
        Assert.True(second.Log is { Backup: true, Database: true, Postgres: true }, second.Log.Error);
        Assert.Contains(second.Warnings, w => w.StartsWith($"Run log: the run log row with run_id {named}", StringComparison.Ordinal));
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM dbsync.runs WHERE run_id IN ('{first.RunId}', '{second.RunId}')"));

        // Left Running: no run holds the lock, so it is not running; the sync marks it Abandoned and goes on.
        SyncFixture.Execute(path, "UPDATE _dbsync_runs SET status = 'Running' WHERE path = 'x'");
        SyncFixture.Execute(path, "UPDATE Genre SET Name = Name || '!' WHERE GenreId = 2");
        var third = await _fixture.SyncAsync(path, "Genre");
        Assert.Equal((SyncStatus.Succeeded, 1L), (third.Status, third.Updated));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM dbsync.runs WHERE run_id = '{third.RunId}'"));
        using var connection = SyncFixture.OpenSqlite(path);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT status FROM _dbsync_runs WHERE path = 'x'";
        Assert.Equal("Abandoned", command.ExecuteScalar());
    }

    [Fact]
    public async Task Log_and_status_read_the_backup_the_caller_names_for_how_a_run_still_recorded_Running_ended()
    {
        // Start-DbSync resolves a relative DBSYNC_LOG_PATH against PowerShell's location and passes it as LogPath;
        // Get-DbSyncLog and Get-DbSyncStatus pass the same path, or Core resolved it against the process's working
        // folder, read another backup, and showed a run that succeeded as Abandoned (module exploration F4).
        var path = _fixture.CopyChinook();
        var backup = Path.Combine(_fixture.Directory, "elsewhere", "sync-log.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(backup)!);
        var run = await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"], LogPath = backup,
        });
        Assert.Equal(SyncStatus.Succeeded, run.Status);
        // The end reached the backup, not the file (a crash after the backup append, DbSync.BookkeepingFailed).
        SyncFixture.Execute(path, $"UPDATE _dbsync_runs SET status = 'Running', finished_at = NULL WHERE run_id = '{run.RunId}'");

        var shown = (await new SyncEngine().GetLogAsync(new LogQuery { Path = path, Last = 1, BackupPath = backup })).Single();
        Assert.Equal((run.RunId, RunStatus.Succeeded), (shown.RunId, shown.Status));
        Assert.Equal(run.RunId, (await new SyncEngine().GetLogAsync(new LogQuery { Path = path, Status = RunStatus.Succeeded, BackupPath = backup })).Single().RunId);
        var status = await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path, BackupPath = backup });
        Assert.Equal(RunStatus.Succeeded, status.LastRun!.Status);
        // Without it, the file's own backup (which has no line of that run) leaves it Abandoned.
        Assert.Equal(RunStatus.Abandoned, (await LogAsync(path, last: 1)).Single().Status);
    }

    [Fact]
    public async Task A_killed_run_shows_as_abandoned_and_log_filters_and_retention_work()
    {
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        // What a process killed mid-run leaves behind: its entry still says Running.
        var killed = Guid.NewGuid();
        SyncFixture.Execute(path, $"INSERT INTO _dbsync_runs (run_id, node_id, path, started_at, status) SELECT '{killed}', value, '{path}', '2020-01-01T00:00:00.0000000Z', 'Running' FROM _dbsync_meta WHERE key = 'node_id'");

        Assert.Equal(RunStatus.Abandoned, (await LogAsync(path)).Single(e => e.RunId == killed).Status);
        Assert.Equal([killed], (await LogAsync(path, status: RunStatus.Abandoned)).Select(e => e.RunId));
        // Filtered on the status shown: asking for a run in progress does not find the crashed one.
        Assert.Empty(await LogAsync(path, status: RunStatus.Running));
        Assert.Single(await LogAsync(path, since: new DateTime(2021, 1, 1, 0, 0, 0, DateTimeKind.Utc)));

        var next = await new SyncEngine().SyncAsync(_fixture.Request(path, "Genre") is var r ? new SyncRequest
        {
            Path = r.Path, ConnectionString = r.ConnectionString, Schema = r.Schema, Tables = r.Tables, KeepDays = 365,
        } : r);

        var entries = await LogAsync(path);
        Assert.Equal(next.RunId, entries[0].RunId);
        Assert.DoesNotContain(entries, e => e.RunId == killed); // pruned from the database by --keep-days ...
        Assert.Contains(BackupLines(path), l => l.GetProperty("runId").GetString() == killed.ToString()
            && l.GetProperty("status").GetString() == "Abandoned"); // ... but kept in the backup
        Assert.Equal(next.RunId, (await LogAsync(path, last: 1)).Single().RunId);

        var (code, stdout, _) = await CliTests.RunCliAsync("log", "--path", path, "--last", "5", "--status", "succeeded", "--json");
        Assert.Equal(0, code);
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement.GetProperty("runs").GetArrayLength());

        // More days than the calendar holds keeps everything: DateTime.AddDays threw there, after PostgreSQL had committed
        // (found by the CLI fixes, which had it end as DbSync.Unexpected).
        var kept = (await LogAsync(path)).Count;
        var (huge, hugeOut, hugeErr) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--table", "Genre", "--keep-days", "2147483647", "--prune-backup", "--json");
        Assert.True(huge == 0, hugeOut + hugeErr);
        Assert.Equal(kept + 1, (await LogAsync(path)).Count);

        // --keep-days 0 --prune-backup keeps the run that prunes, in the file and in the backup; every earlier one goes.
        var (zero, zeroOut, _) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--table", "Genre", "--keep-days", "0", "--prune-backup", "--json");
        Assert.Equal(0, zero);
        var last = JsonDocument.Parse(zeroOut).RootElement.GetProperty("runId").GetString();
        Assert.Equal([last], (await LogAsync(path)).Select(e => e.RunId.ToString()));
        Assert.All(BackupLines(path), l => Assert.Equal(last, l.GetProperty("runId").GetString()));
    }

    [Fact]
    public async Task A_final_entry_the_backup_could_not_take_is_appended_by_the_next_run_and_restores_as_the_run_ended()
    {
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        SyncFixture.Execute(path, "UPDATE Genre SET Name = Name || '!' WHERE GenreId <= 3");
        var backup = Backup(path);
        var aside = backup + ".aside";
        // The backup takes the run's Running line; from the moment the run records its end it takes nothing more, as
        // with a disk that filled up meanwhile (run log exploration, finding 7).
        var blocked = false;
        var progress = new InlineProgress<SyncProgress>(p =>
        {
            if (p.Phase == SyncPhase.Recording && !blocked)
            {
                File.Move(backup, aside);
                Directory.CreateDirectory(backup);
                blocked = true;
            }
        });
        var request = new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"] };

        var first = await new SyncEngine().SyncAsync(request, progress);

        Assert.True(blocked, "the run never reported Recording");
        Assert.Equal(SyncStatus.Succeeded, first.Status);
        Assert.True(first.Log is { Backup: false, Database: true }, first.Log.Error);
        Directory.Delete(backup);
        File.Move(aside, backup);
        List<JsonElement> LinesOf(Guid run) => BackupLines(path).Where(l => l.GetProperty("runId").GetString() == run.ToString()).ToList();
        Assert.Equal("Running", Assert.Single(LinesOf(first.RunId)).GetProperty("status").GetString());

        var second = await new SyncEngine().SyncAsync(request);

        Assert.True(second.Log.Backup, second.Log.Error);
        var ended = LinesOf(first.RunId)[^1];
        Assert.Equal(("Succeeded", 3L), (ended.GetProperty("status").GetString(), ended.GetProperty("updated").GetInt64()));
        Assert.Equal(second.RunId.ToString(), BackupLines(path)[^1].GetProperty("runId").GetString());

        // A file that lost its run log gets the run back from the backup as it ended, not as Abandoned with 0 rows.
        SyncFixture.Execute(path, "DELETE FROM _dbsync_runs");
        await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });
        var restored = (await LogAsync(path)).Single(e => e.RunId == first.RunId);
        Assert.Equal((RunStatus.Succeeded, 3L), (restored.Status, restored.Updated));

        // Owed once: the next run does not append it again.
        var lines = LinesOf(first.RunId).Count;
        Assert.Equal(SyncStatus.Succeeded, (await new SyncEngine().SyncAsync(request)).Status);
        Assert.Equal(lines, LinesOf(first.RunId).Count);
    }

    [Fact]
    public async Task A_final_entry_that_reached_the_backup_but_not_the_file_is_what_the_next_run_records()
    {
        // The next run marked such a run Abandoned 0/0/0 in the file, the backup (after its true line, which restore-log
        // then lost to it) and dbsync.runs, although PostgreSQL had its rows.
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Artist");
        // The file refuses the run's final entry (a full disk, an I/O error) while the backup takes it.
        SyncFixture.Execute(path, """
            CREATE TRIGGER fail_final BEFORE INSERT ON _dbsync_runs WHEN NEW.status <> 'Running' BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END;
            UPDATE Artist SET Name = 'counted' WHERE ArtistId = 1;
            INSERT INTO Artist (ArtistId, Name) VALUES (9500, 'new');
            """);
        var x = await _fixture.SyncAsync(path, "Artist");
        Assert.True(x.Log is { Backup: true, Database: false }, x.Log.Error);
        SyncFixture.Execute(path, "DROP TRIGGER fail_final");

        var next = await _fixture.SyncAsync(path, "Artist");

        Assert.True(next.Log is { Database: true, Postgres: true }, next.Log.Error);
        var logged = (await LogAsync(path)).Single(e => e.RunId == x.RunId);
        Assert.Equal((RunStatus.Succeeded, 1L, 1L), (logged.Status, logged.Inserted, logged.Updated));
        Assert.Equal("Succeeded 1 1", _fixture.PgText($"SELECT concat_ws(' ', status, inserted, updated) FROM dbsync.runs WHERE run_id = '{x.RunId}'"));
        Assert.DoesNotContain(BackupLines(path), l => l.GetProperty("runId").GetString() == x.RunId.ToString() && l.GetProperty("status").GetString() == "Abandoned");
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });
        Assert.Empty(restored.Restored);
        Assert.Equal(RunStatus.Succeeded, (await LogAsync(path)).Single(e => e.RunId == x.RunId).Status);
    }

    [Fact]
    public async Task Restore_takes_the_most_final_line_of_a_run_whatever_their_order()
    {
        // The last line counted: an Abandoned line written after a run's true line (by an earlier DbSync, or in backups
        // joined with cat) hid its counts for good.
        var path = _fixture.CopyChinook();
        var run = await _fixture.SyncAsync(path, "Genre");
        var lines = File.ReadAllLines(Backup(path));
        var (running, succeeded) = (lines[0], lines[1]);
        var other = Guid.NewGuid().ToString();
        var filledIn = With(succeeded, j =>
        {
            j["runId"] = other;
            j["status"] = "Abandoned";
            j["finishedAt"] = null;
            j["message"] = "PostgreSQL committed this run's changes (the counts), but its process ended before the file recorded them; run x recorded them.";
        });
        var bare = With(filledIn, j => (j["message"], j["inserted"]) = (null, 0));
        var backup = Path.Combine(_fixture.Directory, "old.jsonl");
        File.WriteAllLines(backup, [succeeded, With(succeeded, j => (j["status"], j["finishedAt"], j["inserted"]) = ("Abandoned", null, 0)), running, filledIn, bare]);
        // A copy of the file that lost its history.
        var copy = Path.Combine(_fixture.Directory, "copy.sqlite");
        SyncFixture.Execute(path, $"VACUUM INTO '{copy}'");
        SyncFixture.Execute(copy, "DELETE FROM _dbsync_runs");

        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = copy, BackupPath = backup });

        Assert.Equal((2, 3), (restored.Restored.Count, restored.Skipped));
        var entries = await LogAsync(copy);
        var mine = entries.Single(e => e.RunId == run.RunId);
        Assert.Equal((RunStatus.Succeeded, 25L), (mine.Status, mine.Inserted));
        var completed = entries.Single(e => e.RunId.ToString() == other);
        Assert.Equal((RunStatus.Abandoned, 25L), (completed.Status, completed.Inserted));
        Assert.StartsWith("PostgreSQL committed", completed.Message, StringComparison.Ordinal);

        // A file that recorded the run Abandoned without counts gets the filled-in line; one that holds it finished keeps it.
        SyncFixture.Execute(copy, $"UPDATE _dbsync_runs SET status = 'Abandoned', message = NULL, inserted = 0 WHERE run_id = '{other}'");
        var again = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = copy, BackupPath = backup });
        Assert.Equal(other, Assert.Single(again.Restored).RunId.ToString());
        Assert.Equal(25L, (await LogAsync(copy)).Single(e => e.RunId.ToString() == other).Inserted);
    }

    [Fact]
    public async Task A_restored_entry_less_final_than_the_one_in_PostgreSQL_never_replaces_it()
    {
        // A history rebuilt from a backup that missed a run's final line restored that run Abandoned 0/0/0, and the next
        // sync overwrote its true row in dbsync.runs with it.
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Artist");
        SyncFixture.Execute(path, "UPDATE Artist SET Name = 'counted' WHERE ArtistId = 1; INSERT INTO Artist (ArtistId, Name) VALUES (9500, 'new')");
        var x = await _fixture.SyncAsync(path, "Artist");
        Assert.True(x.Log.Postgres, x.Log.Error);
        // The backup could not take the run's final line (it was a folder for a moment, say): only its Running line is there.
        var lines = File.ReadAllLines(Backup(path));
        File.WriteAllLines(Backup(path), lines.Where(l => JsonDocument.Parse(l).RootElement is var e
            && (e.GetProperty("runId").GetString() != x.RunId.ToString() || e.GetProperty("status").GetString() == "Running")));
        await new SyncEngine().DisableAsync(new DisableRequest { Path = path, Purge = true });
        await new SyncEngine().EnableAsync(new EnableRequest { Path = path, Tables = ["Artist"] });
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });
        Assert.Equal(RunStatus.Abandoned, restored.Restored.Single(e => e.RunId == x.RunId).Status);

        var next = await _fixture.SyncAsync(path, "Artist");

        Assert.True(next.Log.Postgres, next.Log.Error);
        Assert.Equal("Succeeded 1 1", _fixture.PgText($"SELECT concat_ws(' ', status, inserted, updated) FROM dbsync.runs WHERE run_id = '{x.RunId}' AND finished_at IS NOT NULL"));
    }

    [Fact]
    public async Task Restore_reads_a_time_with_an_offset_as_that_instant_and_one_without_as_utc_in_any_time_zone()
    {
        // In a machine zone other than UTC, an offset's time was read in that zone, and one without an offset as local:
        // a restored run could finish hours before it started (run log exploration, M4). Backups DbSync writes use Z.
        var path = _fixture.CopyChinook();
        var nodeId = (await new SyncEngine().EnableAsync(new EnableRequest { Path = path, Tables = ["Genre"] })).NodeId;
        var backup = Path.Combine(_fixture.Directory, "edited.jsonl");
        var ids = new[] { Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid() };
        string Line(Guid id, string started, string finished) =>
            $$"""{"runId":"{{id}}","nodeId":"{{nodeId}}","path":"{{path}}","startedAt":"{{started}}","finishedAt":"{{finished}}","status":"Succeeded","inserted":1,"updated":0,"deleted":0}""";
        await File.WriteAllLinesAsync(backup,
        [
            Line(ids[0], "2026-06-01T12:00:00+02:00", "2026-06-01T12:00:05+02:00"),
            Line(ids[1], "2026-06-01T10:00:00", "2026-06-01T10:00:05"),
            Line(ids[2], "2026-06-01T10:00:00Z", "2026-06-01T10:00:05Z"),
        ]);
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "dbsync.dll"), "restore-log", "--path", path, "--backup", backup, "--json" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TZ"] = "America/New_York";
        using (var process = System.Diagnostics.Process.Start(start)!)
        {
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, output);
        }

        var entries = (await LogAsync(path)).Where(e => ids.Contains(e.RunId)).ToList();
        Assert.Equal(3, entries.Count);
        var instant = new DateTime(2026, 6, 1, 10, 0, 0, DateTimeKind.Utc);
        Assert.All(entries, e => Assert.Equal((instant, instant.AddSeconds(5)), (e.StartedAt.ToUniversalTime(), e.FinishedAt!.Value.ToUniversalTime())));
    }

    [Fact]
    public async Task Restore_from_a_backup_several_files_share_brings_back_only_this_files_runs()
    {
        // With one backup for several files (DBSYNC_LOG_PATH), restore-log took every file's runs into this file's log,
        // and status then showed another file's run as this file's last.
        using var other = new SyncFixture();
        var shared = Path.Combine(_fixture.Directory, "all-runs.jsonl");
        var a = _fixture.CopyChinook("a.sqlite");
        var b = other.CopyChinook("b.sqlite");
        SyncRequest Request(string path, string schema, string connection) => new()
        {
            Path = path, ConnectionString = connection, Schema = schema, Tables = ["Genre"], LogPath = shared,
        };
        var runA = await new SyncEngine().SyncAsync(Request(a, _fixture.Schema, TestServer.ConnectionString));
        // An attempt that fails before the file is read has no node id; its path says whose it is.
        var failedA = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(Request(a, _fixture.Schema, "Host=127.0.0.1;Bogus=1")));
        var runB = await new SyncEngine().SyncAsync(Request(b, other.Schema, TestServer.ConnectionString));
        await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(Request(b, other.Schema, "Host=127.0.0.1;Bogus=1")));

        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = a, BackupPath = shared });

        Assert.Equal([failedA.RunId!.Value], restored.Restored.Select(e => e.RunId));
        Assert.Equal(5, restored.Skipped); // a's run twice (superseded, recorded), b's three lines
        Assert.Equal([failedA.RunId.Value, runA.RunId], (await LogAsync(a)).Select(e => e.RunId));

        // Purged and enabled again, the file has a new node id: its runs come back by their path, b's still do not.
        await new SyncEngine().DisableAsync(new DisableRequest { Path = a, Purge = true });
        await new SyncEngine().EnableAsync(new EnableRequest { Path = a, Tables = ["Genre"] });
        var again = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = a, BackupPath = shared });
        Assert.Equal([runA.RunId, failedA.RunId.Value], again.Restored.Select(e => e.RunId));
        Assert.DoesNotContain(await LogAsync(a), e => e.RunId == runB.RunId || e.Path == b);
    }

    [Fact]
    public async Task Keep_days_prunes_only_entries_PostgreSQL_has()
    {
        // --keep-days deleted entries never sent to dbsync.runs, and with --prune-backup their backup lines too: such a
        // run was then lost everywhere.
        var path = _fixture.CopyChinook();
        var first = await _fixture.SyncAsync(path, "Artist");
        // dbsync.runs refuses this file's entries for a while (a role that may not insert there, a full disk on the server).
        var trigger = "no_runs_" + _fixture.Schema;
        _fixture.PgExecute($"""
            CREATE FUNCTION dbsync.{trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated: cannot write dbsync.runs'; END $$;
            CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON dbsync.runs FOR EACH ROW WHEN (NEW.path = '{path}') EXECUTE FUNCTION dbsync.{trigger}();
            """);
        SyncResult unsent;
        try
        {
            SyncFixture.Execute(path, "INSERT INTO Artist (ArtistId, Name) VALUES (9800, 'unsent run')");
            unsent = await _fixture.SyncAsync(path, "Artist");
            Assert.False(unsent.Log.Postgres);
            var pruning = await new SyncEngine().SyncAsync(_fixture.Request(path, "Artist") is var r ? new SyncRequest
            {
                Path = r.Path, ConnectionString = r.ConnectionString, Schema = r.Schema, Tables = r.Tables, KeepDays = 0, PruneBackup = true,
            } : r);
            Assert.Equal(SyncStatus.Succeeded, pruning.Status);
        }
        finally
        {
            _fixture.PgExecute($"DROP TRIGGER {trigger} ON dbsync.runs; DROP FUNCTION dbsync.{trigger}()");
        }

        // The run PostgreSQL has is pruned, in the file and the backup; the unsent one stays in both.
        var ids = (await LogAsync(path)).Select(e => e.RunId).ToList();
        Assert.DoesNotContain(first.RunId, ids);
        Assert.Contains(unsent.RunId, ids);
        Assert.DoesNotContain(BackupLines(path), l => l.GetProperty("runId").GetString() == first.RunId.ToString());
        Assert.Contains(BackupLines(path), l => l.GetProperty("runId").GetString() == unsent.RunId.ToString() && l.GetProperty("status").GetString() == "Succeeded");
        var next = await _fixture.SyncAsync(path, "Artist");
        Assert.True(next.Log.Postgres, next.Log.Error);
        Assert.Equal("Succeeded 1", _fixture.PgText($"SELECT concat_ws(' ', status, inserted) FROM dbsync.runs WHERE run_id = '{unsent.RunId}'"));
    }

    /// <summary>The fixture's folder open to an unprivileged user (tests run as root, which ignores file modes).</summary>
    [UnsupportedOSPlatform("windows")]
    private void OpenFolderToOthers() => File.SetUnixFileMode(_fixture.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute | UnixFileMode.StickyBit);

    private const UnixFileMode Everyone = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_backup_that_cannot_be_pruned_is_a_warning_and_the_committed_run_still_succeeds()
    {
        // Pruning ran after PostgreSQL committed, unguarded: the CLI died with an unhandled exception, no JSON and a
        // non-zero exit, which a scheduler reads as "nothing applied".
        OpenFolderToOthers();
        var path = _fixture.CopyChinook();
        var logs = Directory.CreateDirectory(Path.Combine(_fixture.Directory, "logs")).FullName;
        var backup = Path.Combine(logs, "run.jsonl");
        var first = _fixture.Request(path, "Genre");
        await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = first.ConnectionString, Schema = first.Schema, Tables = first.Tables, LogPath = backup });
        // The backup, the file and its lock file can be written by anyone; the backup's folder only by root.
        foreach (var file in new[] { path, backup, RunLock.LockPathFor(path) })
        {
            File.SetUnixFileMode(file, Everyone);
        }

        SyncFixture.Execute(path, "UPDATE Genre SET Name = 'pruned' WHERE GenreId = 1");

        using var sync = FaultTests.StartDotnet("dbsync.dll", ["sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--table", "Genre", "--log-path", backup, "--keep-days", "0", "--prune-backup", "--json"], user: "nobody");
        var stdout = await sync.StandardOutput.ReadToEndAsync();
        var stderr = await sync.StandardError.ReadToEndAsync();
        await sync.WaitForExitAsync();

        output.WriteLine(stdout + stderr);
        Assert.Equal(0, sync.ExitCode);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(("Succeeded", 1), (json.GetProperty("status").GetString(), json.GetProperty("updated").GetInt32()));
        var error = json.GetProperty("log").GetProperty("error").GetString();
        Assert.Contains($"could not be removed from the backup '{backup}'", error, StringComparison.Ordinal);
        Assert.Contains(json.GetProperty("warnings").EnumerateArray(), w => w.GetString() == "Run log: " + error);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".genre WHERE name = 'pruned'"));
    }

    [Fact]
    public async Task Restore_log_with_a_missing_backup_leaves_a_file_never_enabled_untouched()
    {
        // It added DbSync's tables to the file before finding that the backup did not exist.
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);

        var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path }));

        Assert.Equal(ErrorIds.LogBackupNotFound, error.ErrorId);
        Assert.Contains(Backup(path), error.Message, StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));
    }

    [Fact]
    public async Task Restore_into_a_file_never_enabled_adds_only_the_run_log_and_only_for_entries_of_this_file()
    {
        // It gave the file all of DbSync's tables and a node id even when it restored nothing: status then said capture
        // was enabled, and reset-node no longer said the file had no identity (CLI exploration, M2).
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);
        var other = _fixture.CopyChinook("other.sqlite");
        var elsewhere = Path.Combine(_fixture.Directory, "elsewhere.jsonl");
        SyncRequest Broken(string file, string? logPath = null) => new() { Path = file, ConnectionString = "Host=127.0.0.1;Bogus=1", LogPath = logPath };
        await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(Broken(other, elsewhere)));

        var nothing = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = elsewhere });

        Assert.Equal((0, 1), (nothing.Restored.Count, nothing.Skipped));
        Assert.Equal(before, SyncFixture.Hash(path));

        // This file's own attempt (it failed before reading the file): restored into a run log of its own, and nothing else.
        var failed = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(Broken(path)));
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });
        Assert.Equal([failed.RunId!.Value], restored.Restored.Select(e => e.RunId));
        Assert.Equal([failed.RunId.Value], (await LogAsync(path)).Select(e => e.RunId));
        var status = await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path });
        Assert.Equal((false, (string?)null), (status.CaptureEnabled, status.NodeId));
        var reset = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().ResetNodeAsync(new ResetNodeRequest { Path = path }));
        Assert.Equal(ErrorIds.UsageError, reset.ErrorId);

        // The first sync enables capture and keeps the restored entry.
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path, "Genre")).Status);
        Assert.Contains(await LogAsync(path), e => e.RunId == failed.RunId.Value);
    }

    [Fact]
    public async Task A_file_a_newer_dbsync_wrote_is_refused_by_restore_and_disable_and_failed_by_test()
    {
        // test passed such a file that every sync refuses, and restore-log and disable --force --purge wrote into or removed
        // the newer version's tables (CLI exploration, M1).
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path, "Genre")).Status);
        SyncFixture.Execute(path, "UPDATE _dbsync_meta SET value = '99' WHERE key = 'schema_version'");
        var before = SyncFixture.Hash(path);

        var restore = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path }));
        var disable = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().DisableAsync(new DisableRequest { Path = path, Force = true, Purge = true }));
        var checks = await new SyncEngine().TestAsync(new DbSync.Core.Diagnostics.ConnectionTestRequest { Path = path });

        Assert.Equal((ErrorIds.NewerSchemaVersion, ErrorIds.NewerSchemaVersion), (restore.ErrorId, disable.ErrorId));
        Assert.Equal(before, SyncFixture.Hash(path));
        var version = checks.Single(c => c.Name == "Source.Version");
        Assert.Equal((DbSync.Core.Diagnostics.CheckStatus.Fail, ErrorIds.NewerSchemaVersion), (version.Status, version.ErrorId));
        Assert.Contains("schema version 99", version.Message, StringComparison.Ordinal);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_backup_that_cannot_be_read_is_a_clear_error_naming_it()
    {
        // An I/O or permission error reading the backup escaped as an unhandled exception: a stack trace, no JSON, exit 134.
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);
        // Reading this process's memory at offset 0 fails with EIO, even for root.
        var io = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = "/proc/self/mem" }));
        Assert.Equal(ErrorIds.LogBackupUnreadable, io.ErrorId);
        Assert.Contains("'/proc/self/mem' cannot be read", io.Message, StringComparison.Ordinal);

        // A backup the user may not read.
        OpenFolderToOthers();
        File.SetUnixFileMode(path, Everyone);
        var secret = Path.Combine(_fixture.Directory, "secret.jsonl");
        File.WriteAllText(secret, "{}\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var restore = FaultTests.StartDotnet("dbsync.dll", ["restore-log", "--path", path, "--backup", secret, "--json"], user: "nobody");
        var stdout = await restore.StandardOutput.ReadToEndAsync();
        var stderr = await restore.StandardError.ReadToEndAsync();
        await restore.WaitForExitAsync();

        output.WriteLine(stdout + stderr);
        Assert.Equal(1, restore.ExitCode);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(("Failed", ErrorIds.LogBackupUnreadable), (json.GetProperty("status").GetString(), json.GetProperty("errorId").GetString()));
        Assert.Contains($"'{secret}' cannot be read", json.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));
    }

    [Fact]
    public async Task Restore_refuses_a_sqlite_database_named_as_the_backup()
    {
        // module2 exploration F4: restore-log --backup naming a database (a script's variables mixed up) read its pages as
        // lines: Succeeded, exit 0, dozens of "invalid line" warnings carrying binary content. Sync refused it already.
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        var other = _fixture.CopyChinook("other.sqlite");
        var before = (SyncFixture.Hash(path), SyncFixture.Hash(other));

        foreach (var backup in new[] { path, other })
        {
            var refused = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = backup }));
            Assert.Equal(ErrorIds.LogBackupUnreadable, refused.ErrorId);
            Assert.Contains($"'{backup}' cannot be read (it is a SQLite database", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, (SyncFixture.Hash(path), SyncFixture.Hash(other)));
    }

    [Fact]
    public async Task Restore_refuses_a_status_that_is_not_exactly_a_name_and_negative_counts()
    {
        // The status was read as .NET reads enums: "succeeded", 3, 99 and "Running, Succeeded" were all stored (99 then
        // broke log --json), and negative conflicts and quarantined too. A negative durationMs is what an earlier build
        // wrote when the clock stepped back during a run: it is taken as 0 (the test after the clock-step one).
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        var good = File.ReadAllLines(Backup(path))[^1];
        string Run(Action<JsonObject> change) => With(good, j =>
        {
            j["runId"] = Guid.NewGuid().ToString();
            change(j);
        });
        var backup = Path.Combine(_fixture.Directory, "edited.jsonl");
        File.WriteAllLines(backup, [
            Run(j => j["status"] = "succeeded"),
            Run(j => j["status"] = 3),
            Run(j => j["status"] = 99),
            Run(j => j["status"] = "Running, Succeeded"),
            Run(j => j["status"] = "3"),
            Run(j => j["conflicts"] = -5),
            Run(j => j["quarantined"] = -1),
            Run(j => j["durationMs"] = 1.5),
            Run(j => j["conflictsResolved"] = "1"),
            Run(j => j["status"] = "Failed"), // valid
            Run(j => j["durationMs"] = -9), // valid, as 0 ms
        ]);

        var result = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = backup });

        Assert.Equal([RunStatus.Failed, RunStatus.Succeeded], result.Restored.Select(e => e.Status));
        Assert.Equal(0, result.Restored[1].DurationMs);
        var reasons = result.Invalid.ToDictionary(l => l.Line, l => l.Reason);
        Assert.Equal(Enumerable.Range(1, 9), reasons.Keys.Order());
        Assert.Contains("'status' is 'succeeded', not one of Running, Succeeded", reasons[1], StringComparison.Ordinal);
        Assert.Contains("'status' is number, not string", reasons[2], StringComparison.Ordinal);
        Assert.Contains("'status' is number, not string", reasons[3], StringComparison.Ordinal);
        Assert.Contains("'status' is 'Running, Succeeded'", reasons[4], StringComparison.Ordinal);
        Assert.Contains("'status' is '3'", reasons[5], StringComparison.Ordinal);
        Assert.Equal(["'conflicts'", "'quarantined'", "'durationMs'", "'conflictsResolved'"], reasons.Where(r => r.Key >= 6).OrderBy(r => r.Key)
            .Select(r => r.Value.Split(' ')[0]));
        Assert.All(reasons.Where(r => r.Key >= 6 && r.Key != 8), r => Assert.EndsWith("is not a whole number of 0 or more", r.Value, StringComparison.Ordinal));
        Assert.Equal("'durationMs' is not a whole number", reasons[8]);
        Assert.Equal(3, (await LogAsync(path)).Count);
    }

    [Fact]
    public async Task Restore_refuses_table_lines_with_negative_counts_no_name_or_the_wrong_shape()
    {
        // The run's own counts were checked, its tables' were not: a hand-edited line with a table's inserted -5, no
        // table name or a number as a table's status was restored, and log then showed those figures.
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        var good = File.ReadAllLines(Backup(path))[^1];
        Assert.Equal("Genre", JsonNode.Parse(good)!["tables"]![0]!["name"]!.GetValue<string>());
        string Run(Action<JsonObject> change) => With(good, j =>
        {
            j["runId"] = Guid.NewGuid().ToString();
            change(j);
        });
        JsonObject Table(JsonObject j) => j["tables"]![0]!.AsObject();
        var backup = Path.Combine(_fixture.Directory, "edited-tables.jsonl");
        File.WriteAllLines(backup, [
            Run(j => Table(j)["inserted"] = -5),
            Run(j => Table(j).Remove("name")),
            Run(j => Table(j)["name"] = ""),
            Run(j => Table(j)["name"] = null),
            Run(j => Table(j)["status"] = 3),
            Run(j => Table(j)["quarantined"] = 1.5),
            Run(j => j["tables"] = "Genre"),
            Run(j => j["tables"] = new JsonArray(7)),
            Run(j => Table(j)["inserted"] = 2), // valid
            Run(j => j["tables"] = new JsonArray(null, JsonNode.Parse(good)!["tables"]![0]!.DeepClone())), // valid, the null skipped
        ]);

        var result = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path, BackupPath = backup });

        var reasons = result.Invalid.ToDictionary(l => l.Line, l => l.Reason);
        Assert.Equal(Enumerable.Range(1, 8), reasons.Keys.Order());
        Assert.Equal("'inserted' of table 'Genre' in 'tables' is not a whole number of 0 or more", reasons[1]);
        Assert.Equal("table 1 of 'tables' has no 'name'", reasons[2]);
        Assert.Equal("table 1 of 'tables' has no 'name'", reasons[3]);
        Assert.Equal("table 1 of 'tables' has no 'name'", reasons[4]);
        Assert.Equal("'status' of table 'Genre' in 'tables' is number, not text", reasons[5]);
        Assert.Equal("'quarantined' of table 'Genre' in 'tables' is not a whole number of 0 or more", reasons[6]);
        Assert.Equal("'tables' is string, not an array", reasons[7]);
        Assert.Equal("table 1 of 'tables' is number, not an object", reasons[8]);
        Assert.Equal(2, result.Restored.Count);
        Assert.Equal([2L], result.Restored[0].Tables.Select(t => t.Inserted));
        Assert.Equal(["Genre"], result.Restored[1].Tables.Select(t => t.Name));
        var log = await LogAsync(path);
        Assert.Equal(3, log.Count);
        Assert.All(log, e => Assert.All(e.Tables, t => Assert.True(t.Inserted >= 0 && t.Name.Length > 0)));
    }

    [Theory]
    [InlineData("log")]
    [InlineData("conflicts")]
    public async Task Last_below_1_is_refused_with_one_message_naming_the_rule(string command)
    {
        // --last -1 said "a whole number of 0 or more", and --last 0 was then refused with "at least 1".
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        string[] Args(string last) => command == "log"
            ? ["log", "--path", path, "--last", last, "--json"]
            : ["conflicts", "--path", path, "--connection", TestServer.ConnectionString, "--last", last, "--json"];
        foreach (var value in new[] { "-1", "0", "1.5" })
        {
            var (code, stdout, _) = await CliTests.RunCliAsync(Args(value));

            Assert.Equal(2, code);
            var json = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal(ErrorIds.UsageError, json.GetProperty("errorId").GetString());
            Assert.Equal($"Option --last needs a whole number of 1 or more, not '{value}'.", json.GetProperty("message").GetString());
        }

        Assert.Equal(0, (await CliTests.RunCliAsync(Args("1"))).Code);
    }

    [Fact]
    public async Task No_password_appears_in_the_database_log_the_backup_or_postgresql()
    {
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        var wrong = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Password = "wrong-secret-" + TestServer.Password }.ConnectionString;
        await Assert.ThrowsAnyAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = wrong, Schema = _fixture.Schema }));
        await Assert.ThrowsAnyAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = wrong + ";Bogus=1", Schema = _fixture.Schema }));

        var backup = File.ReadAllText(Backup(path));
        Assert.Contains("DbSync.AuthenticationFailed", backup, StringComparison.Ordinal);
        Assert.Contains("DbSync.InvalidConnectionString", backup, StringComparison.Ordinal);
        Assert.DoesNotContain(TestServer.Password, backup, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret", backup, StringComparison.Ordinal);
        Assert.DoesNotContain(TestServer.Password, File.ReadAllText(path + "-dbsync-log.jsonl"), StringComparison.Ordinal);
        var database = string.Join("\n", (await LogAsync(path)).Select(e => e.ToJson()));
        Assert.DoesNotContain(TestServer.Password, database, StringComparison.Ordinal);
        using var sqlite = SyncFixture.OpenSqlite(path);
        using (var dump = sqlite.CreateCommand())
        {
            dump.CommandText = "SELECT group_concat(coalesce(target, '') || coalesce(message, '') || coalesce(tables, ''), '|') FROM _dbsync_runs";
            Assert.DoesNotContain(TestServer.Password, (string)dump.ExecuteScalar()!, StringComparison.Ordinal);
        }

        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM dbsync.runs WHERE runs::text LIKE '%{TestServer.Password}%'"));
    }

    [Fact]
    public async Task A_cancelled_run_s_tables_are_logged_cancelled_not_succeeded()
    {
        // The log listed a cancelled run's tables as Succeeded (with zero counts): a script reading the tables saw success.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE small (id INTEGER PRIMARY KEY);
            INSERT INTO small VALUES (1);
            CREATE TABLE bulk (id INTEGER PRIMARY KEY, note TEXT);
            WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100000)
            INSERT INTO bulk SELECT i, 'note ' || i FROM s;
            """);
        using var cancel = new CancellationTokenSource();
        var progress = new InlineProgress<SyncProgress>(p =>
        {
            if (p.Table == "bulk" && p.Rows > 0)
            {
                cancel.Cancel();
            }
        });

        var cancelled = await Assert.ThrowsAsync<RunCancelledException>(() => new SyncEngine().SyncAsync(_fixture.Request(path), progress, cancel.Token));

        var entry = Assert.Single(await new SyncEngine().GetLogAsync(new LogQuery { Path = path }));
        Assert.Equal((cancelled.RunId, RunStatus.Cancelled), (entry.RunId, entry.Status));
        Assert.NotEmpty(entry.Tables);
        Assert.All(entry.Tables, t => Assert.Equal(("Cancelled", 0L), (t.Status, t.Inserted)));
    }

    /// <summary>Steps this test's own wall clock (RunClock.TestOffset flows only into the runs this test starts).</summary>
    private static StrongBox<TimeSpan> StepClock(TimeSpan offset)
    {
        var step = new StrongBox<TimeSpan>(offset);
        RunClock.TestOffset.Value = step;
        return step;
    }

    [Fact]
    public async Task A_clock_stepped_back_during_a_run_logs_a_finish_after_its_start_and_restore_log_brings_the_run_back()
    {
        // Finding 1 of the run log exploration: the finish was read from the wall clock again, so a step back of an hour
        // mid-run logged durationMs -3595901 and a finish before the start, which restore-log refused: the restored run
        // was Abandoned with 0 rows.
        var path = _fixture.CopyChinook();
        var step = StepClock(TimeSpan.Zero);
        var progress = new InlineProgress<SyncProgress>(p => step.Value = TimeSpan.FromHours(-1));

        var result = await new SyncEngine().SyncAsync(_fixture.Request(path, "Genre"), progress);

        Assert.Equal((SyncStatus.Succeeded, 25L), (result.Status, result.Inserted));
        Assert.InRange(result.Duration, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        var line = BackupLines(path).Last();
        var (started, finished) = (line.GetProperty("startedAt").GetDateTime(), line.GetProperty("finishedAt").GetDateTime());
        Assert.Equal((long)(finished - started).TotalMilliseconds, line.GetProperty("durationMs").GetInt64());
        Assert.InRange(line.GetProperty("durationMs").GetInt64(), 0, 300_000);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM dbsync.runs WHERE run_id = '{result.RunId}' AND finished_at >= started_at AND duration_ms >= 0"));

        SyncFixture.Execute(path, "DELETE FROM _dbsync_runs");
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });

        Assert.Empty(restored.Invalid);
        var entry = Assert.Single(await LogAsync(path));
        Assert.Equal((result.RunId, RunStatus.Succeeded, 25L), (entry.RunId, entry.Status, entry.Inserted));
    }

    [Fact]
    public async Task Restore_log_takes_a_line_an_earlier_build_wrote_with_the_clock_stepped_back_as_a_run_of_0_ms()
    {
        var path = _fixture.CopyChinook();
        var result = await _fixture.SyncAsync(path, "Genre");
        // What an earlier build wrote when the clock went back an hour during the run.
        var written = File.ReadAllLines(Backup(path)).Last();
        File.WriteAllText(Backup(path), With(written, j =>
        {
            j["finishedAt"] = "2024-05-01T14:47:18.0000000Z";
            j["startedAt"] = "2024-05-01T15:47:14.0000000Z";
            j["durationMs"] = -3595901;
        }) + "\n");
        SyncFixture.Execute(path, "DELETE FROM _dbsync_runs");

        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });

        Assert.Empty(restored.Invalid);
        var entry = Assert.Single(await LogAsync(path));
        Assert.Equal((result.RunId, RunStatus.Succeeded, 25L, 0L), (entry.RunId, entry.Status, entry.Inserted, entry.DurationMs));
        Assert.Equal(entry.StartedAt, entry.FinishedAt);
        Assert.Equal(new DateTime(2024, 5, 1, 15, 47, 14, DateTimeKind.Utc), entry.StartedAt);
    }

    [Fact]
    public async Task Restore_log_takes_tables_null_as_a_run_without_tables()
    {
        // "tables": null was restored as the text null, and log showed it so (run log exploration, finding 12).
        var path = _fixture.CopyChinook();
        var result = await _fixture.SyncAsync(path, "Genre");
        var written = File.ReadAllLines(Backup(path)).Last();
        File.WriteAllText(Backup(path), With(written, j => j["tables"] = null) + "\n");
        SyncFixture.Execute(path, "DELETE FROM _dbsync_runs");

        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });

        Assert.Equal(result.RunId, Assert.Single(restored.Restored).RunId);
        Assert.Empty(Assert.Single(await LogAsync(path)).Tables);
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var stored = sqlite.CreateCommand();
        stored.CommandText = "SELECT tables FROM _dbsync_runs";
        Assert.Equal("[]", stored.ExecuteScalar());
    }

    /// <summary>Old lines of this file's runs (startedAt in 2020, run ids no database holds), enough to make a prune take a moment.</summary>
    private static void AppendOldLines(string backup, string template, int count)
    {
        var old = With(template, j => { j["runId"] = "RUNID"; j["startedAt"] = "2020-01-01T00:00:00.0000000Z"; j["finishedAt"] = "2020-01-01T00:00:01.0000000Z"; });
        using var writer = new StreamWriter(backup, append: true);
        for (var i = 0; i < count; i++)
        {
            writer.Write(old.Replace("RUNID", Guid.NewGuid().ToString(), StringComparison.Ordinal));
            writer.Write('\n');
        }
    }

    [Fact]
    public async Task Prune_backup_loses_no_line_other_processes_append_while_it_rewrites_the_backup()
    {
        // Finding 2 of the run log exploration: the prune read the backup, wrote a new file and renamed it over the backup,
        // without a lock; the lines attempts appended meanwhile (13 of 120) were gone from every record.
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path, "Genre")).Status);
        AppendOldLines(Backup(path), File.ReadAllLines(Backup(path)).Last(), 100_000);
        SyncRequest Broken() => new() { Path = path, ConnectionString = "Host=127.0.0.1;Bogus=1" };
        var attempts = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        using var stop = new CancellationTokenSource();
        async Task Attempts()
        {
            while (!stop.IsCancellationRequested)
            {
                // Each fails before it starts: its entry goes to the backup only.
                var failed = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(Broken()));
                attempts.Add(failed.RunId!.Value);
            }
        }

        var appenders = Enumerable.Range(0, 3).Select(_ => Task.Run(Attempts)).ToList();
        while (attempts.Count < 30)
        {
            await Task.Delay(10);
        }

        var pruning = _fixture.Request(path, "Genre");
        var pruned = await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = pruning.ConnectionString, Schema = pruning.Schema, Tables = pruning.Tables, KeepDays = 1, PruneBackup = true,
        });
        var during = attempts.Count;
        await stop.CancelAsync();
        await Task.WhenAll(appenders);

        Assert.True(pruned.Log.Error is null, pruned.Log.Error);
        var ids = BackupLines(path).Select(l => Guid.Parse(l.GetProperty("runId").GetString()!)).ToHashSet();
        // Of the 100,000 old lines none is left: besides the attempts' lines, only the two syncs' runs.
        var left = ids.Count(id => !attempts.Contains(id));
        Assert.True(left <= 2, $"the old lines were not pruned ({left} lines besides the attempts')");
        output.WriteLine($"{attempts.Count} attempts, {during} before the prune ended");
        var lost = attempts.Count(a => !ids.Contains(a));
        Assert.True(lost == 0, $"{lost} of {attempts.Count} attempts lost their backup line");
        Assert.False(File.Exists(Backup(path) + ".tmp"));
    }

    [Fact]
    public async Task Prune_backup_of_a_shared_backup_removes_only_this_files_old_lines()
    {
        // Finding 3 of the run log exploration: with a backup shared through --log-path, a prune removed every file's old
        // lines, among them another file's run it held unsent and that file's attempts that never reached PostgreSQL.
        using var other = new SyncFixture();
        var shared = Path.Combine(_fixture.Directory, "all-runs.jsonl");
        var a = _fixture.CopyChinook("a.sqlite");
        var b = other.CopyChinook("b.sqlite");
        SyncRequest Request(string path, string schema, string connection, int? keepDays = null) => new()
        {
            Path = path, ConnectionString = connection, Schema = schema, Tables = ["Genre"], LogPath = shared, KeepDays = keepDays, PruneBackup = keepDays is not null,
        };
        var step = StepClock(TimeSpan.FromDays(-10));
        var oldA = await new SyncEngine().SyncAsync(Request(a, _fixture.Schema, TestServer.ConnectionString));
        var oldAttemptA = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(Request(a, _fixture.Schema, "Host=127.0.0.1;Bogus=1")));
        var oldB = await new SyncEngine().SyncAsync(Request(b, other.Schema, TestServer.ConnectionString));
        var oldAttemptB = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(Request(b, other.Schema, "Host=127.0.0.1;Bogus=1")));
        // b's file holds a run unsent: its entry is in b's file and in the backup only.
        SyncFixture.Execute(b, $"UPDATE _dbsync_runs SET pg_sent = 0 WHERE run_id = '{oldB.RunId}'");
        step.Value = TimeSpan.Zero;
        SyncFixture.Execute(a, "UPDATE Genre SET Name = 'pruning' WHERE GenreId = 1");

        var pruning = await new SyncEngine().SyncAsync(Request(a, _fixture.Schema, TestServer.ConnectionString, keepDays: 5));

        Assert.True(pruning.Log.Error is null, pruning.Log.Error);
        var runs = File.ReadAllLines(shared).Select(l => JsonDocument.Parse(l).RootElement).Select(l => Guid.Parse(l.GetProperty("runId").GetString()!)).ToList();
        Assert.DoesNotContain(oldA.RunId, runs);
        Assert.DoesNotContain(oldAttemptA.RunId!.Value, runs);
        Assert.Equal(2, runs.Count(r => r == oldB.RunId));
        Assert.Contains(oldAttemptB.RunId!.Value, runs);
        Assert.Equal(2, runs.Count(r => r == pruning.RunId));
    }

    [Fact]
    public async Task A_run_whose_clock_is_far_from_PostgreSQLs_prunes_nothing_and_says_why()
    {
        // Finding 4 of the run log exploration: one run with the clock 400 days ahead (a VM booted before NTP) removed
        // every entry of the file's log and backup, without a word.
        var path = _fixture.CopyChinook();
        for (var i = 0; i < 3; i++)
        {
            SyncFixture.Execute(path, $"UPDATE Genre SET Name = 'run {i}' WHERE GenreId = 1");
            Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path, "Genre")).Status);
        }

        var lines = File.ReadAllLines(Backup(path)).Length;
        var before = DateTime.UtcNow;
        StepClock(TimeSpan.FromDays(400));
        SyncFixture.Execute(path, "UPDATE Genre SET Name = 'ahead' WHERE GenreId = 1");
        var r = _fixture.Request(path, "Genre");

        var ahead = await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = r.ConnectionString, Schema = r.Schema, Tables = r.Tables, KeepDays = 30, PruneBackup = true,
        });

        Assert.Equal((SyncStatus.Succeeded, 1L), (ahead.Status, ahead.Updated));
        Assert.Equal(4, (await LogAsync(path)).Count);
        Assert.Equal(lines + 2, File.ReadAllLines(Backup(path)).Length);
        var warning = Assert.Single(ahead.Warnings, w => w.StartsWith("Run log:", StringComparison.Ordinal));
        var times = System.Text.RegularExpressions.Regex.Match(warning, "were not removed: this machine's clock says (\\S+) and PostgreSQL's (\\S+), more than 5 minutes apart");
        Assert.True(times.Success, warning);
        var (local, server) = (DateTime.Parse(times.Groups[1].Value, null, System.Globalization.DateTimeStyles.AdjustToUniversal), DateTime.Parse(times.Groups[2].Value, null, System.Globalization.DateTimeStyles.AdjustToUniversal));
        Assert.InRange(local, ahead.StartedAt.AddSeconds(-1), ahead.StartedAt.AddMinutes(5));
        Assert.InRange(server, before.AddSeconds(-1), DateTime.UtcNow.AddSeconds(1));
        Assert.Equal("Run log: " + ahead.Log.Error, warning);
    }

    [Fact]
    public async Task An_attempt_that_fails_after_the_file_was_opened_is_in_the_backup_with_the_files_node_id_and_restore_log_brings_it_back()
    {
        // Finding 5 of the run log exploration: a --table matching no table failed inside the capture check, after the file
        // was opened; its backup line had nodeId null although the file has one, and cli.md said its runId was in the
        // run history.
        var path = _fixture.CopyChinook();
        var first = await _fixture.SyncAsync(path, "Genre");

        var failed = await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(path, "nomatch"));

        Assert.Equal(ErrorIds.TableNotFound, failed.ErrorId);
        var line = BackupLines(path).Last();
        Assert.Equal((failed.RunId.ToString(), first.NodeId, "DbSync.TableNotFound"),
            (line.GetProperty("runId").GetString(), line.GetProperty("nodeId").GetString(), line.GetProperty("errorId").GetString()));
        Assert.DoesNotContain(await LogAsync(path), e => e.RunId == failed.RunId);
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });
        Assert.Equal([failed.RunId!.Value], restored.Restored.Select(e => e.RunId));
        Assert.Equal((RunStatus.Failed, first.NodeId), (await LogAsync(path)).Where(e => e.RunId == failed.RunId).Select(e => (e.Status, e.NodeId)).Single());
    }

    [Fact]
    public async Task A_run_through_a_symbolic_link_logs_to_the_files_own_backup_under_the_files_path()
    {
        // Finding 9 of the run log exploration: the run lock resolved the link, the backup and the recorded path did not,
        // so the run went to LINK-dbsync-log.jsonl, which restore-log --path FILE never read.
        var path = _fixture.CopyChinook();
        var link = Path.Combine(_fixture.Directory, "link.sqlite");
        File.CreateSymbolicLink(link, path);

        var result = await _fixture.SyncAsync(link, "Genre");
        var failed = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest { Path = link, ConnectionString = "Host=127.0.0.1;Bogus=1" }));

        Assert.False(File.Exists(Backup(link)));
        Assert.Equal([path, path, path], BackupLines(path).Select(l => l.GetProperty("path").GetString()));
        Assert.Equal(path, Assert.Single(await LogAsync(path)).Path);
        SyncFixture.Execute(path, "DELETE FROM _dbsync_runs");
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });
        Assert.Equal([result.RunId, failed.RunId!.Value], restored.Restored.Select(e => e.RunId));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Prune_backup_through_a_symbolic_link_prunes_the_real_backup_and_keeps_the_link(bool named)
    {
        // Run log exploration, F2: --prune-backup renamed its new file over a backup that was a link (--log-path LINK, or
        // a default backup an administrator made a link), so the real file kept every old line and later runs went to a
        // new regular file at the link's name.
        var path = _fixture.CopyChinook();
        var logs = Directory.CreateDirectory(Path.Combine(_fixture.Directory, "logs")).FullName;
        var real = Path.Combine(logs, "real.jsonl");
        var link = named ? Path.Combine(_fixture.Directory, "link.jsonl") : Backup(path);
        File.WriteAllText(real, "");
        File.CreateSymbolicLink(link, real);
        SyncRequest Request(int? keepDays = null) => new()
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"],
            LogPath = named ? link : null, KeepDays = keepDays, PruneBackup = keepDays is not null,
        };
        await new SyncEngine().SyncAsync(Request());
        await new SyncEngine().SyncAsync(Request());
        Assert.Equal(4, File.ReadAllLines(real).Length);

        var pruning = await new SyncEngine().SyncAsync(Request(keepDays: 0));
        var after = await new SyncEngine().SyncAsync(Request());

        Assert.True(pruning.Log.Error is null, pruning.Log.Error);
        Assert.Equal(real, new FileInfo(link).LinkTarget);
        Assert.Equal([pruning.RunId, pruning.RunId, after.RunId, after.RunId],
            File.ReadAllLines(real).Select(l => Guid.Parse(JsonDocument.Parse(l).RootElement.GetProperty("runId").GetString()!)));
        // One lock for both names: the real file's.
        Assert.False(File.Exists(link + ".lock"));
        Assert.Equal(real, pruning.Log.BackupPath);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task Prune_backup_by_another_account_keeps_the_backups_owner_and_mode()
    {
        // Run log exploration, F3: the pruned backup was a new file renamed over the old, owned by whoever pruned. An
        // administrator's manual prune of a backup shared with a service account took it over, and the service's next
        // runs could no longer append to it. The test runs as root; the backup belongs to nobody.
        var path = _fixture.CopyChinook();
        var backup = Path.Combine(_fixture.Directory, "shared.jsonl");
        SyncRequest Request(int? keepDays = null) => new()
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"],
            LogPath = backup, KeepDays = keepDays, PruneBackup = keepDays is not null,
        };
        await new SyncEngine().SyncAsync(Request());
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
        File.SetUnixFileMode(backup, mode);
        Assert.Equal("", await Run("chown", "nobody:nogroup", backup));
        var link = Path.Combine(_fixture.Directory, "hard.jsonl");
        Assert.Equal("", await Run("ln", backup, link));

        var pruning = await new SyncEngine().SyncAsync(Request(keepDays: 0));

        Assert.True(pruning.Log.Error is null, pruning.Log.Error);
        Assert.Equal("nobody:nogroup", (await Run("stat", "-c", "%U:%G", backup)).Trim());
        Assert.Equal(mode, File.GetUnixFileMode(backup));
        // Still one file: a hard link sees the pruned lines too.
        Assert.Equal([pruning.RunId, pruning.RunId], File.ReadAllLines(link).Select(l => Guid.Parse(JsonDocument.Parse(l).RootElement.GetProperty("runId").GetString()!)));
        Assert.False(File.Exists(backup + ".tmp"));

        static async Task<string> Run(string program, params string[] arguments)
        {
            var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = System.Diagnostics.Process.Start(start)!;
            var text = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return text;
        }
    }

    [Fact]
    public async Task History_lost_from_dbsync_runs_is_sent_again_after_clearing_the_files_log_and_restore_log()
    {
        // Finding 8 of the run log exploration: an entry once sent is never sent again, so a lost dbsync.runs stays
        // without the history; cli.md ("The run log") gives this way to send it again.
        var path = _fixture.CopyChinook();
        var runs = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            SyncFixture.Execute(path, $"UPDATE Genre SET Name = 'run {i}' WHERE GenreId = 1");
            runs.Add((await _fixture.SyncAsync(path, "Genre")).RunId);
        }

        // This file's rows only: other tests use dbsync.runs meanwhile.
        _fixture.PgExecute($"DELETE FROM dbsync.runs WHERE path = '{path}'");
        SyncFixture.Execute(path, "DELETE FROM _dbsync_runs");
        var restored = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest { Path = path });
        var next = await _fixture.SyncAsync(path, "Genre");

        Assert.Equal(runs, restored.Restored.Select(e => e.RunId));
        Assert.True(next.Log.Postgres, next.Log.Error);
        Assert.Equal(4, _fixture.PgScalar($"SELECT count(*) FROM dbsync.runs WHERE path = '{path}' AND status = 'Succeeded'"));
    }

    [Fact]
    public async Task A_watchs_runs_rewrite_the_backup_at_most_once_a_day()
    {
        // Run log exploration F4: every run of a watch under --keep-days --prune-backup dropped its oldest line and so
        // rewrote the whole backup (5 s a run for 168 MB), in runs meant to push within tens of milliseconds.
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await new SyncEngine().SyncAsync(_fixture.Request(path, "Genre"))).Status);
        SyncRequest Watching() => new()
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"], KeepDays = 0, PruneBackup = true,
            ReuseConnection = true,
        };
        List<string> Runs() => BackupLines(path).Select(l => l.GetProperty("runId").GetString()!).Distinct().ToList();

        var first = await new SyncEngine().SyncAsync(Watching());
        Assert.Equal([first.RunId.ToString()], Runs());

        SyncFixture.Execute(path, "UPDATE Genre SET Name = Name || '!' WHERE GenreId = 1");
        var second = await new SyncEngine().SyncAsync(Watching());
        Assert.Equal([first.RunId.ToString(), second.RunId.ToString()], Runs());

        // A day later (the file keeps when it last pruned the backup; the run's clock must agree with PostgreSQL's).
        SyncFixture.Execute(path, $"UPDATE _dbsync_meta SET value = '{DateTime.UtcNow.AddHours(-25):O}' WHERE key = 'backup_pruned_at'");
        SyncFixture.Execute(path, "UPDATE Genre SET Name = Name || '!' WHERE GenreId = 2");
        var third = await new SyncEngine().SyncAsync(Watching());
        Assert.Equal([third.RunId.ToString()], Runs());
    }
}
