using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Tests;

/// <summary>
/// Conflicts: a target row that another writer (a direct PostgreSQL writer here) changed, inserted or deleted since
/// this node last synced it, under each policy, with the losing version kept in dbsync.conflicts.
/// </summary>
public sealed class ConflictTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly SyncEngine _engine = new();

    public void Dispose() => _fixture.Dispose();

    private string Table => $"\"{_fixture.Schema}\".item";

    private async Task<string> SyncedItemsAsync()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
            INSERT INTO item VALUES (1, 'one', '2024-01-01 00:00:00'), (2, 'two', '2024-01-01 00:00:00'), (3, 'three', '2024-01-01 00:00:00');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        return path;
    }

    private Task<SyncResult> SyncAsync(string path, ConflictPolicy policy, string? newest = null) => _engine.SyncAsync(new SyncRequest
    {
        Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = policy, NewestColumn = newest,
    });

    private static string? Local(string path, string sql)
    {
        using var connection = SyncFixture.OpenSqlite(path);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar() is { } value and not DBNull ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    /// <summary>The one conflict recorded is a Changed one on row <paramref name="id"/>, which the target won: both sides hold its 'pg' version.</summary>
    private async Task AssertTargetWonAsync(string path, int id)
    {
        var record = Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal(ConflictKind.Changed, record.Kind);
        Assert.Contains($"\"id\": {id}", record.Key, StringComparison.Ordinal);
        Assert.Equal("pg", _fixture.PgText($"SELECT name FROM {Table} WHERE id = {id}"));
        Assert.Equal("pg", Local(path, $"SELECT name FROM item WHERE id = {id}"));
    }

    /// <summary>
    /// A TargetWins run (of <paramref name="tables"/>, or all) that PostgreSQL commits but the file cannot record: another
    /// program takes the file's write lock just before the commit.
    /// </summary>
    private async Task SyncUnrecordedAsync(string path, params string[] tables)
    {
        using var locker = new FileLocker(path, SyncPhase.Committing);
        var request = new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = ConflictPolicy.TargetWins,
            BusyTimeout = TimeSpan.FromSeconds(1), Tables = tables,
        };
        var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => _engine.SyncAsync(request, locker.Progress));
        locker.Release();
        Assert.Equal("DbSync.BookkeepingFailed", error.ErrorId);
    }

    /// <summary>A synced file and a copy of it that syncs first (with row 10 of its own), so the copy takes the node id.</summary>
    private async Task<(string Original, string Copy)> CopySyncedFirstAsync()
    {
        var original = await SyncedItemsAsync();
        var copy = Path.Combine(_fixture.Directory, "copy.sqlite");
        File.Copy(original, copy);
        SyncFixture.Execute(copy, "INSERT INTO item VALUES (10, 'copy', NULL)");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(copy)).Status);
        return (original, copy);
    }

    private async Task<long> PendingAsync(string path) => (await _engine.GetStatusAsync(new StatusRequest { Path = path })).PendingChanges;

    [Theory]
    [InlineData("ts", "'infinity'", "infinity")]
    [InlineData("ts", "'0044-03-15 12:00:00 BC'", "0044-03-15 12:00:00 BC")]
    [InlineData("d", "'-infinity'", "-infinity")]
    [InlineData("n", "0.000000000000000000000000000001", "1E-30")] // a real that is exactly that number; it was 0
    public async Task A_target_value_sqlite_cannot_hold_exactly_is_written_as_postgresqls_text_and_never_pushed_back_changed(string column, string pgValue, string local)
    {
        // They became NULL, the year AD, or a rounded number in SQLite, which the next push sent back over the value that won.
        var path = _fixture.CreateDatabase("CREATE TABLE lossy (id INTEGER PRIMARY KEY, ts DATETIME, d DATE, n NUMERIC, note TEXT); INSERT INTO lossy VALUES (1, '2024-01-01 00:00:00', '2024-01-01', 1.5, 'orig');");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".lossy SET {column} = {pgValue}, note = 'pg' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE lossy SET note = 'local' WHERE id = 1");
        var before = _fixture.PgText($"SELECT {column}::text FROM \"{_fixture.Schema}\".lossy WHERE id = 1");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 1L), (result.Status, result.ConflictsResolved));
        Assert.Equal(local, Local(path, $"SELECT {column} FROM lossy WHERE id = 1"));
        // A later local change of another column pushes the row: the value that won is held back or arrives unchanged.
        SyncFixture.Execute(path, "UPDATE lossy SET note = 'later' WHERE id = 1");
        await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal(before, _fixture.PgText($"SELECT {column}::text FROM \"{_fixture.Schema}\".lossy WHERE id = 1"));
    }

    [Fact]
    public async Task A_target_version_that_wins_sets_only_the_columns_it_changed_and_a_changed_column_keeps_the_files_encoding()
    {
        // A conflict about 'note' rewrote every column in PostgreSQL's canonical form: Unix seconds and Julian days became
        // ISO text (the application then read 2024 for 1709287200), an offset was dropped, 'true' became 1, an untyped 42
        // became '42' (fidelity exploration F1).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE ev (id INTEGER PRIMARY KEY, created DATETIME, day DATE, flag BOOLEAN, any_, note TEXT);
            INSERT INTO ev VALUES (1, 1709287200, 2460370.5, 'true', 42, 'a'), (2, '2024-03-01T10:00:00+02:00', '2024-03-01', 'T', 1e-30, 'b');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        const string Row = "SELECT group_concat(quote(created) || ':' || typeof(created) || '|' || quote(day) || ':' || typeof(day) || '|' || quote(flag) || '|' || quote(any_) || ':' || typeof(any_) || '|' || note, ' / ') FROM (SELECT * FROM ev ORDER BY id)";
        var original = Local(path, Row);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".ev SET note = 'pg'");
        SyncFixture.Execute(path, "UPDATE ev SET note = 'local'");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 2L, 0L), (result.Status, result.ConflictsResolved, result.Quarantined));
        Assert.Equal(original!.Replace("|a", "|pg", StringComparison.Ordinal).Replace("|b", "|pg", StringComparison.Ordinal), Local(path, Row));
        Assert.Equal(0, await PendingAsync(path));

        // Columns PostgreSQL did change are written in the encoding the file's row holds: Unix seconds, a Julian day, 'false'.
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".ev SET created = '2024-03-02 10:00:00', day = '2024-03-02', flag = false, any_ = '43', note = 'pg2' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE ev SET note = 'local2' WHERE id = 1");
        result = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.Succeeded, 1L, 0L), (result.Status, result.ConflictsResolved, result.Quarantined));
        Assert.Equal("1709373600:integer|2460371.5:real|'false'|43:integer|pg2", Local(path, Row.Replace(", ' / ')", ")", StringComparison.Ordinal) + " WHERE id = 1"));
        var pg = _fixture.PgText($"SELECT string_agg(t::text, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".ev AS t");
        SyncFixture.Execute(path, "UPDATE ev SET note = 'pg2' WHERE id = 1; UPDATE ev SET note = 'pg' WHERE id = 2");
        Assert.Equal(SyncStatus.Succeeded, (await SyncAsync(path, ConflictPolicy.SourceWins)).Status);
        Assert.Equal(pg, _fixture.PgText($"SELECT string_agg(t::text, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".ev AS t"));
    }

    [Fact]
    public async Task A_target_value_sqlite_affinity_would_change_is_held_and_never_pushed_back_changed()
    {
        // A 30-digit numeric became a real in the file, and '00042' in a UUID (NUMERIC affinity) column the integer 42;
        // the write-back's check applied the same affinity, found them equal, and the next push of the row sent 42 and
        // 123456789012345680000000000000 over PostgreSQL's values (fidelity exploration F2, F4).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE m (id INTEGER PRIMARY KEY, n NUMERIC, price MONEY, code UUID, note TEXT);
            INSERT INTO m VALUES (1, 1.5, 12.5, 'abc', 'a'), (2, 1.5, 12.5, 'abc', 'b'), (3, 1.5, 12.5, 'abc', 'c');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"""
            UPDATE "{_fixture.Schema}".m SET n = 123456789012345678901234567890.123, note = 'pg' WHERE id = 1;
            UPDATE "{_fixture.Schema}".m SET code = '00042', note = 'pg' WHERE id = 2;
            UPDATE "{_fixture.Schema}".m SET price = '13.5', note = 'pg' WHERE id = 3;
            """);
        SyncFixture.Execute(path, "UPDATE m SET note = 'local'");
        var pg = $"SELECT n::text || '|' || code || '|' || price || '|' || note FROM \"{_fixture.Schema}\".m WHERE id = ";
        Assert.Equal("123456789012345678901234567890.123|abc|12.5|pg", _fixture.PgText(pg + "1"));
        Assert.Equal("1.5|00042|12.5|pg", _fixture.PgText(pg + "2"));

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        // Row 3's '13.5' is the real the file's row holds there, which a push sends as '13.5': written.
        Assert.Equal((SyncStatus.PartiallySucceeded, 3L, 2L), (result.Status, result.ConflictsResolved, result.Quarantined));
        Assert.Contains(result.Warnings, w => w.Contains("in table 'm', row (id = 1), column 'n' (NUMERIC), SQLite's NUMERIC affinity stores PostgreSQL's value, the text '123456789012345678901234567890.123', as the real 1.2345678901234568E+29", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.Contains("in table 'm', row (id = 2), column 'code' (UUID), SQLite's NUMERIC affinity stores PostgreSQL's value, the text '00042', as the integer 42", StringComparison.Ordinal));
        Assert.Equal("1.5:real|abc|local / 1.5:real|abc|local / 1.5:real|abc|pg",
            Local(path, "SELECT group_concat(n || ':' || typeof(n) || '|' || code || '|' || note, ' / ') FROM (SELECT * FROM m ORDER BY id)"));
        Assert.Equal("13.5:real", Local(path, "SELECT price || ':' || typeof(price) FROM m WHERE id = 3"));
        var reasons = (await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path })).Select(r => r.Reason).ToList();
        Assert.Contains(reasons, r => r.Contains("column 'code' (UUID)", StringComparison.Ordinal) && r.Contains("'00042'", StringComparison.Ordinal));

        // Every later run meets the conflict again and never sends an altered value over PostgreSQL's.
        SyncFixture.Execute(path, "UPDATE m SET note = 'later' WHERE id = 3");
        var again = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.PartiallySucceeded, 2L), (again.Status, again.Quarantined));
        Assert.Equal("123456789012345678901234567890.123|abc|12.5|pg", _fixture.PgText(pg + "1"));
        Assert.Equal("1.5|00042|12.5|pg", _fixture.PgText(pg + "2"));
        Assert.Equal("1.5|abc|13.5|later", _fixture.PgText(pg + "3"));
    }

    [Fact]
    public async Task The_target_version_that_wins_is_written_to_sqlite_around_generated_columns()
    {
        // LocalWriter set every non-key column, generated ones too: SQLite refused after PostgreSQL had committed, every
        // run failed the same way, and a later run without TargetWins pushed the losing version over the winner.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE line (id INTEGER PRIMARY KEY, price REAL, qty INTEGER, total REAL GENERATED ALWAYS AS (price * qty) STORED,
                label TEXT GENERATED ALWAYS AS ('x' || qty) VIRTUAL);
            INSERT INTO line (id, price, qty) VALUES (1, 2.5, 4), (2, 1.0, 1);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".line SET qty = 50, total = 125, label = 'x50' WHERE id = 1; DELETE FROM \"{_fixture.Schema}\".line WHERE id = 2");
        SyncFixture.Execute(path, "UPDATE line SET qty = 7 WHERE id = 1; DELETE FROM line WHERE id = 2");
        _fixture.PgExecute($"INSERT INTO \"{_fixture.Schema}\".line VALUES (2, 3.0, 2, 6.0, 'x2')");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 2L, 2L), (result.Status, result.Conflicts, result.ConflictsResolved));
        Assert.Equal("50|125.0|x50", Local(path, "SELECT qty || '|' || total || '|' || label FROM line WHERE id = 1"));
        Assert.Equal("2|6.0", Local(path, "SELECT qty || '|' || total FROM line WHERE id = 2"));
        Assert.Equal(0, await PendingAsync(path));
        var plain = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 0L), (plain.Status, plain.Updated));
        Assert.Equal("50", _fixture.PgText($"SELECT qty::text FROM \"{_fixture.Schema}\".line WHERE id = 1"));
    }

    [Fact]
    public async Task Changes_the_applications_triggers_make_while_the_target_version_is_written_are_pushed()
    {
        // A "stamp" trigger of the application changes the row DbSync writes and another row: DbSync forgot every change
        // logged during its write, so both stayed out of PostgreSQL with nothing pending.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE doc (id INTEGER PRIMARY KEY, title TEXT, stamp TEXT, edits INTEGER);
            INSERT INTO doc VALUES (0, 'counter', NULL, 0), (1, 'one', NULL, 0), (2, 'two', NULL, 0);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, """
            CREATE TRIGGER doc_stamp AFTER UPDATE OF title ON doc WHEN NEW.id <> 0
            BEGIN UPDATE doc SET stamp = 'stamped:' || NEW.title WHERE id = NEW.id; UPDATE doc SET edits = edits + 1 WHERE id = 0; END;
            """);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".doc SET title = 'pg' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE doc SET title = 'local' WHERE id = 1");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.Succeeded, 1L), (result.Status, result.ConflictsResolved));
        Assert.Equal(2, await PendingAsync(path));
        await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal("pg|stamped:pg", _fixture.PgText($"SELECT title || '|' || stamp FROM \"{_fixture.Schema}\".doc WHERE id = 1"));
        Assert.Equal("2", _fixture.PgText($"SELECT edits::text FROM \"{_fixture.Schema}\".doc WHERE id = 0"));
        Assert.Equal(0, await PendingAsync(path));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_target_version_sqlite_refuses_leaves_the_file_version_held_with_a_warning_and_the_run_partially_succeeded()
    {
        // PostgreSQL deleted the parent (and its child there); this node changed the parent and still has a child
        // pointing at it. DbSync's connection enforces foreign keys, so writing the winning delete failed after the commit,
        // as BookkeepingFailed, on every run.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));
            INSERT INTO parent VALUES (1, 'p'); INSERT INTO child VALUES (10, 1);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"DELETE FROM \"{_fixture.Schema}\".child; DELETE FROM \"{_fixture.Schema}\".parent");
        SyncFixture.Execute(path, "UPDATE parent SET name = 'local' WHERE id = 1");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        // The row is held (quarantine lists it), so the run says PartiallySucceeded (exit 3), as any run that holds rows back.
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L), (result.Status, result.ConflictsResolved, result.Quarantined));
        Assert.Contains(result.Warnings, w => w.StartsWith("Table 'parent': PostgreSQL's version of the row (id = 1), which won its conflict (DeletedInTarget), could not be written to the file: ", StringComparison.Ordinal)
            && w.Contains("FOREIGN KEY", StringComparison.Ordinal));
        Assert.Equal("local", Local(path, "SELECT name FROM parent WHERE id = 1"));
        // Still pending: the next run meets the conflict again, and says so again; nothing fails.
        Assert.True(await PendingAsync(path) >= 1);
        var again = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (again.Status, again.Conflicts));
        Assert.Contains(again.Warnings, w => w.StartsWith("Table 'parent'", StringComparison.Ordinal));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".parent"));
    }

    [Fact]
    public async Task A_winning_null_boolean_and_real_come_back_as_they_are_and_a_later_push_keeps_them()
    {
        // A NULL boolean came back as 0 (false), and a real's shortest text (0.1) as another double, which the next
        // push then sent as false over NULL and held back as "cannot be stored in real without rounding" (reverse
        // fidelity exploration, S2 and M1).
        _fixture.PgExecute($"CREATE SCHEMA IF NOT EXISTS \"{_fixture.Schema}\"; CREATE TABLE \"{_fixture.Schema}\".w (id bigint PRIMARY KEY, flag boolean, r real, note text)");
        var path = _fixture.CreateDatabase("CREATE TABLE w (id INTEGER PRIMARY KEY, flag BOOLEAN, r REAL, note TEXT); INSERT INTO w VALUES (1, NULL, 0.5, 'orig');");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".w SET r = 0.1, note = 'pg' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE w SET note = 'local' WHERE id = 1");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 1L), (result.Status, result.ConflictsResolved));
        Assert.Equal("null|real|0.100000001490116|pg", Local(path, "SELECT typeof(flag) || '|' || typeof(r) || '|' || printf('%.15f', r) || '|' || note FROM w WHERE id = 1"));
        SyncFixture.Execute(path, "UPDATE w SET note = 'later' WHERE id = 1");
        var later = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.Succeeded, 1L, 0L), (later.Status, later.Updated, later.Quarantined));
        Assert.Equal("null|0.1|later", _fixture.PgText($"SELECT coalesce(flag::text, 'null') || '|' || r::text || '|' || note FROM \"{_fixture.Schema}\".w WHERE id = 1"));
    }

    [Theory]
    [InlineData(ConflictPolicy.TargetWins)]
    [InlineData(ConflictPolicy.Newest)]
    public async Task A_winning_target_version_sqlite_refuses_is_not_overwritten_by_the_losing_local_version_on_later_runs(ConflictPolicy policy)
    {
        // The run made PostgreSQL's winning row this node's before the file refused its version; the file's version then
        // stayed pending as an ordinary change, and the next run pushed it over the winner as a plain update, no conflict.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT CHECK (name <> 'forbidden'), updated_at TEXT);
            INSERT INTO item VALUES (1, 'one', '2024-01-01 00:00:00'), (2, 'two', '2024-01-01 00:00:00');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE {Table} SET name = 'forbidden', updated_at = '2024-01-03 00:00:00' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local', updated_at = '2024-01-02 00:00:00' WHERE id = 1");
        var newest = policy == ConflictPolicy.Newest ? "updated_at" : null;

        var first = await SyncAsync(path, policy, newest);
        var second = await SyncAsync(path, policy, newest);
        SyncFixture.Execute(path, "UPDATE item SET name = 'TWO' WHERE id = 2");
        var third = await SyncAsync(path, policy, newest);

        foreach (var run in new[] { first, second, third })
        {
            Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L, 1L, 0L), (run.Status, run.Conflicts, run.ConflictsResolved, run.Quarantined, run.Tables.Single().Updated - (run == third ? 1 : 0)));
            Assert.Contains(run.Warnings, w => w.StartsWith("Table 'item': PostgreSQL's version of the row (id = 1), which won its conflict (Changed), could not be written to the file: ", StringComparison.Ordinal)
                && w.Contains("CHECK constraint failed", StringComparison.Ordinal));
        }

        Assert.Equal("forbidden", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
        Assert.Equal("TWO", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 2"));
        Assert.Equal("local", Local(path, "SELECT name FROM item WHERE id = 1"));
        // Held, by name, and recorded once: a run meeting the same conflict again adds no record.
        var held = Assert.Single(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("(id=1)", HeldKind.Conflict, 3L), (held.Key, held.Kind, held.Attempts));
        Assert.StartsWith("The file refused PostgreSQL's version of the row, which won its conflict (Changed): ", held.Reason, StringComparison.Ordinal);
        Assert.Contains("CHECK constraint failed", held.Reason, StringComparison.Ordinal);
        Assert.Equal("Target", Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path })).Winner);

        // Held by the Fail policy meanwhile, it stays that conflict: retried under the first policy, PostgreSQL's version stays.
        var failed = await SyncAsync(path, ConflictPolicy.Fail);
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 0L), (failed.Status, failed.Conflicts, failed.Updated));
        var retried = await _engine.RetryQuarantineAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = policy, NewestColumn = newest,
        });
        Assert.Equal((1L, 0L), (retried!.Conflicts, retried.Updated));
        Assert.Equal("forbidden", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));

        // Settled by another policy: the file's version goes, and that decision is recorded.
        var settled = await SyncAsync(path, ConflictPolicy.SourceWins);
        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (settled.Status, settled.Conflicts, settled.Updated));
        Assert.Equal("local", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
        Assert.Empty(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(0, await PendingAsync(path));
        Assert.Equal(["None", "Source", "Target"], (await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }))
            .Select(c => c.Winner).Order());
    }

    [Fact]
    public async Task A_write_back_sqlite_fails_for_another_reason_than_a_constraint_is_held_with_a_warning_and_the_rest_is_recorded()
    {
        // The application's trigger calls a function the application registers on its own connections. DbSync's write
        // of the winning version failed with SQLite's "no such function", not a constraint error: every run ended
        // BookkeepingFailed after PostgreSQL had committed, and nothing was ever marked synced (exploration M2).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO item VALUES (1, 'one'), (2, 'two'); INSERT INTO other VALUES (1, 'a');
            CREATE TRIGGER audit AFTER UPDATE ON item BEGIN SELECT app_audit(new.name); END;
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg' WHERE id = 1");
        using (var app = SyncFixture.OpenSqlite(path))
        {
            app.CreateFunction("app_audit", (string? name) => name);
            SyncFixture.Execute(app, "UPDATE item SET name = 'local' WHERE id = 1; UPDATE item SET name = 'TWO' WHERE id = 2; UPDATE other SET v = 'b';");
        }

        var first = await SyncAsync(path, ConflictPolicy.TargetWins);
        var second = await SyncAsync(path, ConflictPolicy.TargetWins);

        foreach (var run in new[] { first, second })
        {
            Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L), (run.Status, run.Conflicts, run.Quarantined));
            Assert.Contains(run.Warnings, w => w.StartsWith("Table 'item': PostgreSQL's version of the row (id = 1), which won its conflict (Changed), could not be written to the file: ", StringComparison.Ordinal)
                && w.Contains("no such function: app_audit", StringComparison.Ordinal));
        }

        Assert.Equal((2L, 0L), (first.Updated, second.Updated));
        Assert.Equal("pg|TWO|b", _fixture.PgText($"SELECT (SELECT string_agg(name, '|' ORDER BY id) FROM {Table}) || '|' || (SELECT v FROM \"{_fixture.Schema}\".other)"));
        Assert.Equal("local", Local(path, "SELECT name FROM item WHERE id = 1"));
        // Only the refused row is left: the rest of the run was recorded.
        var held = Assert.Single(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("(id=1)", HeldKind.Conflict), (held.Key, held.Kind));
        Assert.Equal(1, await PendingAsync(path));
    }

    [Fact]
    public async Task A_write_back_an_application_trigger_rolls_back_with_raise_rollback_is_held_and_the_other_winners_are_written()
    {
        // RAISE(ROLLBACK) rolls back SQLite's whole transaction, savepoint and all: every run ended BookkeepingFailed
        // after PostgreSQL committed, and by the third the file's losing version went over PostgreSQL's as a plain update.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO item VALUES (1, 'one'), (2, 'two'), (3, 'three'); INSERT INTO other VALUES (1, 'a');
            CREATE TRIGGER app_guard BEFORE UPDATE ON item WHEN new.name = 'pg-vetoed' BEGIN SELECT RAISE(ROLLBACK, 'the application vetoes this'); END;
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg-vetoed' WHERE id = 1; UPDATE {Table} SET name = 'pg-taken' WHERE id = 3");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id IN (1, 3); UPDATE item SET name = 'TWO' WHERE id = 2; UPDATE other SET v = 'b';");

        var runs = new List<SyncResult>();
        for (var i = 0; i < 3; i++)
        {
            runs.Add(await SyncAsync(path, ConflictPolicy.TargetWins));
        }

        Assert.Equal((2L, 2L, 1L, 1L), (runs[0].Conflicts, runs[0].ConflictsResolved, runs[0].Quarantined, runs[0].Tables.Single(t => t.Name == "item").Updated));
        foreach (var run in runs)
        {
            Assert.Equal(SyncStatus.PartiallySucceeded, run.Status);
            Assert.Contains(run.Warnings, w => w.StartsWith("Table 'item': PostgreSQL's version of the row (id = 1), which won its conflict (Changed), could not be written to the file: ", StringComparison.Ordinal)
                && w.Contains("the application vetoes this", StringComparison.Ordinal));
        }

        Assert.All(runs.Skip(1), run => Assert.Equal((1L, 1L, 0L), (run.Conflicts, run.Quarantined, run.Updated)));
        Assert.Equal("pg-vetoed|TWO|pg-taken|b", _fixture.PgText($"SELECT (SELECT string_agg(name, '|' ORDER BY id) FROM {Table}) || '|' || (SELECT v FROM \"{_fixture.Schema}\".other)"));
        Assert.Equal("local|TWO|pg-taken", Local(path, "SELECT group_concat(name, '|') FROM (SELECT name FROM item ORDER BY id)"));
        var held = Assert.Single(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("(id=1)", HeldKind.Conflict), (held.Key, held.Kind));
        Assert.Contains("the application vetoes this", held.Reason, StringComparison.Ordinal);
        Assert.Equal(1, await PendingAsync(path));
    }

    [Fact]
    public async Task A_winning_target_row_sqlite_refuses_to_take_back_is_not_deleted_by_the_local_delete_and_arrives_once_the_file_can_take_it()
    {
        // The row PostgreSQL kept (the target won a DeletedLocally conflict) could not be put back in the file (its email
        // is another row's now), and the next run deleted it in PostgreSQL, with no conflict.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE person (id INTEGER PRIMARY KEY, email TEXT UNIQUE, note TEXT);
            INSERT INTO person VALUES (1, 'a@x', 'one'), (2, 'b@x', 'two');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var table = $"\"{_fixture.Schema}\".person";
        _fixture.PgExecute($"UPDATE {table} SET note = 'pg important' WHERE id = 1");
        SyncFixture.Execute(path, "DELETE FROM person WHERE id = 1; INSERT INTO person VALUES (3, 'a@x', 'three');");

        var first = await SyncAsync(path, ConflictPolicy.TargetWins);
        var second = await SyncAsync(path, ConflictPolicy.TargetWins);

        foreach (var run in new[] { first, second })
        {
            Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L, 0L), (run.Status, run.Conflicts, run.Quarantined, run.Tables.Single().Deleted));
            Assert.Contains(run.Warnings, w => w.StartsWith("Table 'person': PostgreSQL's version of the row (id = 1), which won its conflict (DeletedLocally), could not be written to the file: ", StringComparison.Ordinal)
                && w.Contains("UNIQUE constraint failed", StringComparison.Ordinal));
        }

        Assert.Equal("pg important", _fixture.PgText($"SELECT note FROM {table} WHERE id = 1"));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM {table} WHERE id = 3"));

        // Once the file can take it, the winning row comes back into the file, and nothing is left pending or held.
        SyncFixture.Execute(path, "UPDATE person SET email = 'c@x' WHERE id = 3");
        var healed = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.Succeeded, 1L), (healed.Status, healed.Conflicts));
        Assert.DoesNotContain(healed.Warnings, w => w.StartsWith("Table 'person'", StringComparison.Ordinal));
        Assert.Equal("a@x|pg important", Local(path, "SELECT email || '|' || note FROM person WHERE id = 1"));
        Assert.Equal("c@x", _fixture.PgText($"SELECT email FROM {table} WHERE id = 3"));
        Assert.Empty(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(0, await PendingAsync(path));
        var after = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((0L, 0L, 0L), (after.Conflicts, after.Tables.Single().Updated, after.Tables.Single().Deleted));
    }

    [Theory]
    [InlineData("'NaN'", "NaN", "text")]
    [InlineData("'Infinity'", "Infinity", "real")]
    [InlineData("'-Infinity'", "-Infinity", "real")]
    public async Task A_target_row_with_a_nan_or_infinite_real_that_wins_is_written_to_sqlite_and_stays_in_postgresql(string pgValue, string expected, string storage)
    {
        // SQLite has no NaN real: writing the target's version failed after PostgreSQL had committed, as an
        // unexpected error, and the next run then pushed the local version over the one that won.
        var path = _fixture.CreateDatabase("CREATE TABLE m (id INTEGER PRIMARY KEY, r REAL, note TEXT); INSERT INTO m VALUES (1, 1.5, 'orig');");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".m SET r = {pgValue}, note = 'pg' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE m SET note = 'local' WHERE id = 1");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);
        var again = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (result.Status, result.Conflicts, result.ConflictsResolved));
        Assert.Equal((SyncStatus.Succeeded, 0L, 0L), (again.Status, again.Updated, again.Conflicts));
        Assert.Equal($"{expected}|pg", _fixture.PgText($"SELECT r::text || '|' || note FROM \"{_fixture.Schema}\".m WHERE id = 1"));
        Assert.Equal($"{storage}|{expected}|pg", Local(path, "SELECT typeof(r) || '|' || CASE WHEN typeof(r) = 'real' THEN CASE WHEN r > 0 THEN 'Infinity' ELSE '-Infinity' END ELSE r END || '|' || note FROM m WHERE id = 1"));
        Assert.Equal(0, await PendingAsync(path));
    }

    [Theory]
    [InlineData(ConflictPolicy.SourceWins, "local")]
    [InlineData(ConflictPolicy.TargetWins, "pg")]
    [InlineData(ConflictPolicy.Newest, "pg")]
    [InlineData(ConflictPolicy.Fail, "pg")]
    public async Task An_update_conflicting_with_a_direct_postgresql_update_is_resolved_by_policy_and_recorded(ConflictPolicy policy, string expected)
    {
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg', updated_at = '2024-01-03 00:00:00' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local', updated_at = '2024-01-02 00:00:00' WHERE id = 1; UPDATE item SET name = 'TWO' WHERE id = 2;");

        var result = await SyncAsync(path, policy, policy == ConflictPolicy.Newest ? "updated_at" : null);

        Assert.Equal(1, result.Conflicts);
        Assert.Equal(policy == ConflictPolicy.Fail ? 0 : 1, result.ConflictsResolved);
        Assert.Equal(policy == ConflictPolicy.Fail ? SyncStatus.PartiallySucceeded : SyncStatus.Succeeded, result.Status);
        Assert.Equal(expected, _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
        Assert.Equal("TWO", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 2")); // no conflict: applied whatever the policy
        var record = Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal((ConflictKind.Changed, policy, result.RunId, "item"), (record.Kind, record.Policy, record.RunId, record.Table));
        Assert.Equal(policy switch { ConflictPolicy.SourceWins => "Source", ConflictPolicy.Fail => "None", _ => "Target" }, record.Winner);
        Assert.Contains("\"local\"", record.SourceRow, StringComparison.Ordinal);
        Assert.Contains("\"pg\"", record.TargetRow, StringComparison.Ordinal);
        Assert.Contains("\"id\": 1", record.Key, StringComparison.Ordinal);

        var log = (await _engine.GetLogAsync(new LogQuery { Path = path, Last = 1 })).Single();
        Assert.Equal((1L, result.ConflictsResolved), (log.Conflicts, log.ConflictsResolved));
        if (policy == ConflictPolicy.Fail)
        {
            // Left pending and listed; the next run meets the same conflict again.
            Assert.Equal("local", Local(path, "SELECT name FROM item WHERE id = 1"));
            var held = Assert.Single(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
            Assert.Equal((HeldKind.Conflict, "(id=1)"), (held.Kind, held.Key));
            Assert.Equal(1, (await _engine.GetStatusAsync(new StatusRequest { Path = path })).Quarantined);
            Assert.Equal(1, await PendingAsync(path));
            Assert.Equal(1, (await SyncAsync(path, policy)).Conflicts);
            // Recorded once, not again by each run that meets it still waiting.
            Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
            // Settled by hand with another policy.
            Assert.Equal((1L, 1L), ((await SyncAsync(path, ConflictPolicy.SourceWins)) is var settled ? (settled.Conflicts, settled.ConflictsResolved) : default));
            Assert.Equal("local", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
            Assert.Empty(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        }
        else
        {
            // Both sides agree, nothing is pending, and the row is this node's again: a later change is no conflict.
            Assert.Equal(expected, Local(path, "SELECT name FROM item WHERE id = 1"));
            Assert.Equal(0, await PendingAsync(path));
            SyncFixture.Execute(path, "UPDATE item SET name = 'later' WHERE id = 1");
            var later = await SyncAsync(path, policy, policy == ConflictPolicy.Newest ? "updated_at" : null);
            Assert.Equal((0L, 1L), (later.Conflicts, later.Updated));
            Assert.Equal("later", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
        }
    }

    [Fact]
    public async Task Newest_keeps_the_source_row_when_its_timestamp_is_later()
    {
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg', updated_at = '2024-01-02 00:00:00' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local', updated_at = '2024-01-05 00:00:00' WHERE id = 1");

        var result = await SyncAsync(path, ConflictPolicy.Newest, "updated_at");

        Assert.Equal((1L, 1L), (result.Conflicts, result.ConflictsResolved));
        Assert.Equal("local", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
    }

    [Fact]
    public async Task Newest_without_its_column_is_refused_before_anything_is_written()
    {
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id = 1");

        var missing = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, ConflictPolicy.Newest, "modified"));
        var unnamed = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, ConflictPolicy.Newest));

        Assert.Equal("DbSync.NewestColumnMissing", missing.ErrorId);
        Assert.Contains("'item'", missing.Message, StringComparison.Ordinal);
        Assert.Equal("DbSync.UsageError", unnamed.ErrorId);
        Assert.Equal("one", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
        Assert.Equal(1, await PendingAsync(path));
    }

    [Theory]
    [InlineData(ConflictPolicy.SourceWins)]
    [InlineData(ConflictPolicy.TargetWins)]
    [InlineData(ConflictPolicy.Fail)]
    public async Task A_local_delete_of_a_row_changed_in_postgresql_and_a_local_update_of_a_row_deleted_there_are_conflicts(ConflictPolicy policy)
    {
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg3' WHERE id = 3; DELETE FROM {Table} WHERE id = 2");
        SyncFixture.Execute(path, "DELETE FROM item WHERE id = 3; UPDATE item SET name = 'local2' WHERE id = 2;");

        var result = await SyncAsync(path, policy);

        Assert.Equal((2L, policy == ConflictPolicy.Fail ? 0L : 2L), (result.Conflicts, result.ConflictsResolved));
        var kinds = (await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }))
            .Select(c => c.Kind).Order().ToList();
        Assert.Equal([ConflictKind.DeletedInTarget, ConflictKind.DeletedLocally], kinds);
        if (policy == ConflictPolicy.SourceWins)
        {
            Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id = 3"));
            Assert.Equal("local2", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 2"));
        }
        else if (policy == ConflictPolicy.Fail)
        {
            // Each held row says what the other writer did.
            var held = (await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path })).OrderBy(h => h.Key, StringComparer.Ordinal).ToList();
            Assert.Equal(["(id=2)", "(id=3)"], held.Select(h => h.Key));
            Assert.Contains("the row was deleted in PostgreSQL", held[0].Reason, StringComparison.Ordinal);
            Assert.Contains("the row was changed in PostgreSQL", held[1].Reason, StringComparison.Ordinal);
        }
        else
        {
            // The target's side: row 3 comes back locally with PostgreSQL's values, row 2 goes; nothing is captured.
            Assert.Equal("pg3", Local(path, "SELECT name FROM item WHERE id = 3"));
            Assert.Null(Local(path, "SELECT name FROM item WHERE id = 2"));
            Assert.Equal(0, await PendingAsync(path));
            TableComparer.AssertIdentical(path, _fixture.Schema);
        }
    }

    [Theory]
    [InlineData(ConflictPolicy.SourceWins)]
    [InlineData(ConflictPolicy.TargetWins)]
    [InlineData(ConflictPolicy.Newest)]
    [InlineData(ConflictPolicy.Fail)]
    public async Task A_primary_key_changed_in_sqlite_moves_the_row_under_every_policy_and_is_no_conflict(ConflictPolicy policy)
    {
        // The new key is a new row for PostgreSQL. Logged as an update, it was taken for a row deleted there: a
        // conflict, which TargetWins "resolved" by deleting the row in SQLite too.
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "UPDATE item SET id = 100, updated_at = '2024-02-01 00:00:00' WHERE id = 1");

        var result = await SyncAsync(path, policy, policy == ConflictPolicy.Newest ? "updated_at" : null);

        Assert.Equal((SyncStatus.Succeeded, 0L, 1L, 1L), (result.Status, result.Conflicts, result.Inserted, result.Deleted));
        Assert.Equal("one", Local(path, "SELECT name FROM item WHERE id = 100"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_file_captured_by_the_previous_update_trigger_is_upgraded_in_place_without_copying_its_tables_again()
    {
        var path = await SyncedItemsAsync();
        // Put back the update trigger DbSync 0.1 installed: the new key of a key change logged as an update (op 2).
        using (var connection = SyncFixture.OpenSqlite(path))
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND substr(name, -2) = '_u'";
            using var reader = command.ExecuteReader();
            Assert.True(reader.Read());
            var (name, sql) = (reader.GetString(0), reader.GetString(1));
            Assert.False(reader.Read());
            var legacy = System.Text.RegularExpressions.Regex.Replace(sql, @"VALUES \(CASE WHEN .* THEN 1 ELSE 2 END, ", "VALUES (2, ");
            Assert.NotEqual(sql, legacy);
            reader.Close();
            SyncFixture.Execute(connection, $"DROP TRIGGER \"{name}\"; {legacy}");
        }

        SyncFixture.Execute(path, "UPDATE item SET name = 'uno' WHERE id = 1");
        var result = await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "UPDATE item SET id = 200 WHERE id = 2");
        var moved = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal(("Push", 1L), (result.Tables.Single().Mode, result.Updated));
        Assert.Equal((SyncStatus.Succeeded, 0L, 1L, 1L), (moved.Status, moved.Conflicts, moved.Inserted, moved.Deleted));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Changes_of_this_node_alone_are_never_conflicts_and_a_row_inserted_in_both_places_with_the_same_values_is_none()
    {
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, "UPDATE Track SET Milliseconds = Milliseconds + 1 WHERE TrackId <= 500; DELETE FROM InvoiceLine WHERE InvoiceLineId <= 100; INSERT INTO Genre VALUES (26, 'Polka');");
        _fixture.PgExecute($"INSERT INTO \"{_fixture.Schema}\".genre VALUES (26, 'Polka')");

        var result = await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "UPDATE Genre SET Name = 'Polka!' WHERE GenreId = 26");
        var after = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 0L, 500L, 100L), (result.Status, result.Conflicts, result.Updated, result.Deleted));
        Assert.Equal((0L, 1L), (after.Conflicts, after.Updated));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_row_postgresql_rejects_is_quarantined_with_its_message_while_its_batch_commits_and_retry_heals_it()
    {
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"ALTER TABLE {Table} ADD CONSTRAINT short_name CHECK (length(name) < 10)");
        SyncFixture.Execute(path, "UPDATE item SET name = 'much too long a name' WHERE id = 2; UPDATE item SET name = 'uno' WHERE id = 1; INSERT INTO item VALUES (4, 'four', NULL);");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L, 1L), (result.Status, result.Quarantined, result.Updated, result.Inserted));
        Assert.Equal("uno", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
        var held = Assert.Single(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal((HeldKind.Quarantined, "(id=2)"), (held.Kind, held.Key));
        Assert.Contains("23514", held.Reason, StringComparison.Ordinal);
        Assert.Contains("short_name", held.Reason, StringComparison.Ordinal);
        // Npgsql's own sentence in place of a withheld DETAIL is not PostgreSQL's message.
        Assert.DoesNotContain("Include Error Detail", held.Reason, StringComparison.Ordinal);
        Assert.Equal((1L, 1L), ((await _engine.GetStatusAsync(new StatusRequest { Path = path })) is var status ? (status.Quarantined, status.PendingChanges) : default));
        Assert.Equal(1, (await _engine.GetLogAsync(new LogQuery { Path = path, Last = 1 })).Single().Quarantined);

        // Fixing the target heals it: retry syncs just the tables holding rows.
        _fixture.PgExecute($"ALTER TABLE {Table} DROP CONSTRAINT short_name");
        var retried = await _engine.RetryQuarantineAsync(_fixture.Request(path));
        Assert.NotNull(retried);
        Assert.Equal((SyncStatus.Succeeded, 0L, 1L), (retried.Status, retried.Quarantined, retried.Updated));
        Assert.Empty(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Null(await _engine.RetryQuarantineAsync(_fixture.Request(path)));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_copy_reset_without_a_connection_releases_the_old_id_on_its_next_sync()
    {
        // Reset without a connection, the copy released nothing, and no later command could: the original, whose id
        // PostgreSQL had last seen used by the copy, was refused until it was reset too (and copied in full).
        var (original, copy) = await CopySyncedFirstAsync();
        var reset = await _engine.ResetNodeAsync(new ResetNodeRequest { Path = copy });
        Assert.False(reset.Released);
        SyncFixture.Execute(original, "INSERT INTO item VALUES (11, 'original', NULL)");
        Assert.Equal("DbSync.DuplicateNodeId", (await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(original))).ErrorId);

        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(copy)).Status);
        var result = await _fixture.SyncAsync(original);

        Assert.Equal((SyncStatus.Succeeded, 1L, reset.PreviousNodeId), (result.Status, result.Inserted, result.NodeId));
        Assert.Equal("original", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 11"));
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(copy)).Status); // released once: nothing left to release
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(original)).Status);
    }

    /// <summary>A table keyed by text with a UNIQUE column besides (so it has REPLACE triggers), synced once.</summary>
    private async Task<string> SyncedPeopleAsync()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE person (id TEXT PRIMARY KEY, email TEXT UNIQUE, v INTEGER);
            INSERT INTO person VALUES ('a', 'a@x', 1), ('b', 'b@x', 2);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        return path;
    }

    [Theory]
    [InlineData(ConflictPolicy.SourceWins)]
    [InlineData(ConflictPolicy.TargetWins)]
    public async Task A_row_replaced_then_deleted_before_reset_node_is_not_left_in_postgresql_by_the_full_copy(ConflictPolicy policy)
    {
        // INSERT OR REPLACE of a row the file had logs an insert, and after reset-node PostgreSQL's row counted as another
        // node's (the file wrote it under its old id): the delete was taken for an insert and delete that never reached
        // PostgreSQL and left alone, with nothing pending (reset-node exploration). Then it was a DeletedLocally conflict
        // with the file's own past, undone under TargetWins; the new id owns what the released one wrote, so the file's
        // delete is simply applied, under any policy (fleet exploration, F3).
        var path = await SyncedPeopleAsync();
        SyncFixture.Execute(path, "INSERT OR REPLACE INTO person VALUES ('a', 'new@x', 3); DELETE FROM person WHERE id = 'a';");
        Assert.True((await _engine.ResetNodeAsync(new ResetNodeRequest { Path = path, ConnectionString = TestServer.ConnectionString })).Released);

        var result = await SyncAsync(path, policy);

        Assert.Equal((SyncStatus.Succeeded, "FullCopy", 0L, 0L), (result.Status, result.Tables.Single().Mode, result.Conflicts, result.ConflictsResolved));
        Assert.Empty(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".person WHERE id = 'a'"));
        Assert.Null(Local(path, "SELECT email FROM person WHERE id = 'a'"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, await PendingAsync(path));
    }

    [Fact]
    public async Task A_row_another_writer_changed_that_is_replaced_then_deleted_here_is_a_conflict_not_left_alone()
    {
        var path = await SyncedPeopleAsync();
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".person SET v = 20 WHERE id = 'b'");
        SyncFixture.Execute(path, "INSERT OR REPLACE INTO person VALUES ('b', 'other@x', 3); DELETE FROM person WHERE id = 'b';");

        var result = await SyncAsync(path, ConflictPolicy.SourceWins);

        Assert.Equal((SyncStatus.Succeeded, "Push", 1L, 1L, 1L), (result.Status, result.Tables.Single().Mode, result.Conflicts, result.ConflictsResolved, result.Deleted));
        Assert.Equal(ConflictKind.DeletedLocally, Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path })).Kind);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task After_reset_node_on_a_file_that_made_the_last_run_its_pending_changes_are_no_conflicts_with_itself(bool withConnection)
    {
        // No other writer: the new id did not own what the old one wrote, so the file's own edit and delete were conflicts
        // with itself, undone here under TargetWins (fleet exploration, F3).
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "UPDATE item SET name = 'local edit' WHERE id = 1; DELETE FROM item WHERE id = 2; INSERT INTO item VALUES (11, 'new', NULL);");
        var reset = await _engine.ResetNodeAsync(new ResetNodeRequest { Path = path, ConnectionString = withConnection ? TestServer.ConnectionString : null });
        Assert.Equal(withConnection, reset.Released);

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 0L, 0L), (result.Status, result.Conflicts, result.ConflictsResolved));
        Assert.Equal("local edit", Local(path, "SELECT name FROM item WHERE id = 1"));
        Assert.Null(Local(path, "SELECT name FROM item WHERE id = 2"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Empty(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        // Its next change to a row it synced under the old id is its own too.
        SyncFixture.Execute(path, "UPDATE item SET name = 'again' WHERE id = 3");
        Assert.Equal(0L, (await SyncAsync(path, ConflictPolicy.Fail)).Conflicts);
        Assert.Equal("again", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 3"));
    }

    [Fact]
    public async Task A_copied_file_is_refused_as_a_duplicate_node_until_reset_node_gives_the_copy_its_own_identity()
    {
        var (original, copy) = await CopySyncedFirstAsync();
        SyncFixture.Execute(original, "INSERT INTO item VALUES (11, 'original', NULL)");

        var refused = await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(original));

        Assert.Equal("DbSync.DuplicateNodeId", refused.ErrorId);
        Assert.Contains("reset-node", refused.Message, StringComparison.Ordinal);
        Assert.Contains(copy, refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id = 11"));

        var reset = await _engine.ResetNodeAsync(new ResetNodeRequest { Path = copy, ConnectionString = TestServer.ConnectionString });
        Assert.True(reset.Released);
        Assert.NotEqual(reset.PreviousNodeId, reset.NodeId);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(original)).Status);
        var copyRun = await _fixture.SyncAsync(copy);
        Assert.Equal(SyncStatus.Succeeded, copyRun.Status);
        Assert.Equal(reset.NodeId, copyRun.NodeId);
        Assert.Equal(["FullCopy"], copyRun.Tables.Select(t => t.Mode));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id = 11"));
        var bare = _fixture.CreateDatabase("CREATE TABLE x (id INTEGER PRIMARY KEY)", "bare.sqlite");
        Assert.Equal("DbSync.UsageError", (await Assert.ThrowsAsync<DbSyncException>(() => _engine.ResetNodeAsync(new ResetNodeRequest { Path = bare }))).ErrorId);
    }

    [Fact]
    public async Task A_file_an_application_saved_over_with_an_older_copy_of_itself_is_refused_with_a_message_that_says_so()
    {
        // An application read the file into memory through SQLite's backup API, a sync ran, and the application saved its
        // copy back over the file. The refusal said the id was "used by another SQLite file" and named this file's own
        // path as the other one (capture exploration, finding 8).
        var path = await SyncedItemsAsync();
        using var memory = new SqliteConnection("Data Source=:memory:");
        memory.Open();
        using (var file = SyncFixture.OpenSqlite(path))
        {
            file.BackupDatabase(memory);
        }

        SyncFixture.Execute(path, "UPDATE item SET name = 'direct' WHERE id = 2");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(memory, "UPDATE item SET name = 'in memory' WHERE id = 1");
        using (var file = SyncFixture.OpenSqlite(path))
        {
            memory.BackupDatabase(file);
        }

        var refused = await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(path));

        Assert.Equal("DbSync.DuplicateNodeId", refused.ErrorId);
        Assert.Contains("is an older copy of itself", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("another SQLite file", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"reset-node --path \"{path}\"", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--resync", refused.Message, StringComparison.Ordinal);
        Assert.Equal("direct", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 2"));
        // What it says to do makes PostgreSQL match the file.
        await _engine.ResetNodeAsync(new ResetNodeRequest { Path = path, ConnectionString = TestServer.ConnectionString });
        Assert.Equal(SyncStatus.Succeeded, (await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Resync = true })).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_file_replaced_by_a_backup_from_before_capture_is_warned_about_once_and_a_resync_makes_postgresql_match_it()
    {
        // A backup taken before DbSync was enabled, restored over the file, has no node id: the sync minted one and joined
        // as a new node, Succeeded with no warning, and the rows the file lost stayed in PostgreSQL (capture exploration 2,
        // F2). It still joins (a new file at that path is as likely: today's exploration, F1/F2), but says so.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
            INSERT INTO item VALUES (1, 'one', NULL), (2, 'two', NULL);
            """);
        var before = Path.Combine(_fixture.Directory, "before-dbsync.sqlite");
        File.Copy(path, before);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, "INSERT INTO item VALUES (3, 'three', NULL)");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SqliteConnection.ClearAllPools();
        File.Copy(before, path, overwrite: true);

        var joined = await _fixture.SyncAsync(path);
        var again = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, joined.Status);
        Assert.Contains(joined.Warnings, w => w.Contains("has no DbSync history, yet PostgreSQL knows node id", StringComparison.Ordinal) && w.Contains("--resync", StringComparison.Ordinal));
        Assert.DoesNotContain(again.Warnings, w => w.Contains("has no DbSync history", StringComparison.Ordinal));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id = 3"));
        // What it says to do makes PostgreSQL match the file, and the file goes on with no conflict with its own rows.
        var resync = await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Resync = true });
        Assert.Equal(SyncStatus.Succeeded, resync.Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
        SyncFixture.Execute(path, "UPDATE item SET name = 'later' WHERE id = 1");
        var later = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 1L, 0L), (later.Status, later.Updated, later.Conflicts));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_new_file_at_a_path_an_older_file_synced_from_joins_keeping_both_files_rows_and_the_older_node_goes_on()
    {
        // A first fix of capture exploration 2's F2 refused this (DbSync.NodeIdentityLost) and advised --resync, which
        // deleted the older file's rows: a file rotated away and a new one started at its path, or devices cloned from one
        // image with the same host name and path (today's exploration, F1 and F2).
        var path = await SyncedItemsAsync();
        SqliteConnection.ClearAllPools();
        var archived = Path.Combine(_fixture.Directory, "archived.sqlite");
        File.Move(path, archived);
        var fresh = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT); INSERT INTO item VALUES (100, 'new day', NULL);");
        Assert.Equal(path, fresh);

        var joined = await _fixture.SyncAsync(fresh);

        Assert.Equal(SyncStatus.Succeeded, joined.Status);
        Assert.Contains(joined.Warnings, w => w.Contains("Nothing is wrong if it is a new file", StringComparison.Ordinal));
        var archivedRows = long.Parse(Local(archived, "SELECT count(*) FROM item")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(archivedRows + 1, _fixture.PgScalar($"SELECT count(*) FROM {Table}"));
        // The archived file still syncs as the node it was, from its new path.
        SyncFixture.Execute(archived, "UPDATE item SET name = 'archived edit' WHERE id = 1");
        var old = await _fixture.SyncAsync(archived);
        Assert.Equal((SyncStatus.Succeeded, 1L), (old.Status, old.Updated));
        Assert.Equal(archivedRows + 1, _fixture.PgScalar($"SELECT count(*) FROM {Table}"));
    }

    [Fact]
    public async Task A_file_purged_and_synced_again_at_its_path_is_warned_about_while_disable_alone_and_a_new_file_elsewhere_are_not()
    {
        var path = await SyncedItemsAsync();
        // Disabled without --purge, the file keeps its node id: synced again as the same node, no warning.
        await _engine.DisableAsync(new DisableRequest { Path = path });
        var same = await _fixture.SyncAsync(path);
        Assert.Equal(SyncStatus.Succeeded, same.Status);
        Assert.DoesNotContain(same.Warnings, w => w.Contains("has no DbSync history", StringComparison.Ordinal));
        // Another file at another path joins the same tables as a node of its own, no warning.
        var other = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT); INSERT INTO item VALUES (7, 'seven', NULL);", "other.sqlite");
        var elsewhere = await _fixture.SyncAsync(other);
        Assert.Equal(SyncStatus.Succeeded, elsewhere.Status);
        Assert.DoesNotContain(elsewhere.Warnings, w => w.Contains("has no DbSync history", StringComparison.Ordinal));
        // Purged, the file has no identity left: it joins as a new node, and says PostgreSQL's node at this path may hold rows it lost.
        await _engine.DisableAsync(new DisableRequest { Path = path, Purge = true, Force = true });
        var purged = await _fixture.SyncAsync(path);
        Assert.Equal(SyncStatus.Succeeded, purged.Status);
        Assert.Contains(purged.Warnings, w => w.Contains("has no DbSync history", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_file_restored_from_an_older_backup_stays_refused_as_an_older_copy_of_itself_after_restore_log()
    {
        // restore-log brought the newer run back from the JSONL backup beside the file; that run then passed for one the
        // file had started but never recorded, the duplicate check let the file through, and its new changes up to that
        // run's last seq were taken for applied and marked synced, never pushed (fleet exploration, F2).
        var path = await SyncedItemsAsync();
        var backup = Path.Combine(_fixture.Directory, "backup.sqlite");
        File.Copy(path, backup);
        SyncFixture.Execute(path, string.Concat(Enumerable.Range(100, 30).Select(id => $"INSERT INTO item VALUES ({id}, 'before the restore', NULL);")));
        Assert.Equal(30L, (await SyncAsync(path, ConflictPolicy.SourceWins)).Inserted);
        SqliteConnection.ClearAllPools();
        File.Copy(backup, path, overwrite: true);
        Assert.Equal("DbSync.DuplicateNodeId", (await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, ConflictPolicy.SourceWins))).ErrorId);
        Assert.Single((await _engine.RestoreLogAsync(new RestoreLogRequest { Path = path })).Restored);
        SyncFixture.Execute(path, string.Concat(Enumerable.Range(200, 40).Select(id => $"INSERT INTO item VALUES ({id}, 'after the restore', NULL);")));

        var refused = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, ConflictPolicy.SourceWins));

        Assert.Equal("DbSync.DuplicateNodeId", refused.ErrorId);
        Assert.Contains("is an older copy of itself", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id >= 200"));
        Assert.Equal(40, await PendingAsync(path));
        // What it says to do makes PostgreSQL match the file, every new row in.
        await _engine.ResetNodeAsync(new ResetNodeRequest { Path = path, ConnectionString = TestServer.ConnectionString });
        Assert.Equal(SyncStatus.Succeeded, (await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Resync = true })).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_copy_sharing_the_backup_stays_refused_after_restore_log_brings_it_the_originals_runs()
    {
        // The copy (reset-node forgotten) and the original share DBSYNC_LOG_PATH; restore-log gave the copy the original's
        // run (its nodeId matches), and the copy's next sync passed and marked its changes synced unpushed (F2, variant).
        var original = await SyncedItemsAsync();
        var copy = Path.Combine(_fixture.Directory, "copy.sqlite");
        SqliteConnection.ClearAllPools();
        File.Copy(original, copy);
        var shared = Path.Combine(_fixture.Directory, "shared-log.jsonl");
        SyncFixture.Execute(original, "INSERT INTO item VALUES (50, 'original', NULL)");
        Assert.Equal(SyncStatus.Succeeded, (await _engine.SyncAsync(new SyncRequest
        {
            Path = original, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, LogPath = shared,
        })).Status);
        Assert.Single((await _engine.RestoreLogAsync(new RestoreLogRequest { Path = copy, BackupPath = shared })).Restored);
        SyncFixture.Execute(copy, string.Concat(Enumerable.Range(600, 5).Select(id => $"INSERT INTO item VALUES ({id}, 'copy', NULL);")));

        var refused = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(copy, ConflictPolicy.SourceWins));

        Assert.Equal("DbSync.DuplicateNodeId", refused.ErrorId);
        Assert.Contains(original, refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id >= 600"));
        Assert.Equal(5, await PendingAsync(copy));
    }

    [Fact]
    public async Task A_copy_taken_while_a_run_was_running_lacks_changes_that_run_committed_and_is_refused_as_a_copy()
    {
        // The copy held the run (as Running) in its log, so it passed for the original, and PostgreSQL kept for good a
        // row the copy never had, with nothing pending and no warning (crash exploration, finding 6).
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "INSERT INTO item VALUES (9001, 'before the copy', NULL); INSERT INTO item VALUES (9002, 'after the copy', NULL);");
        await SyncUnrecordedAsync(path);
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id > 9000"));
        // As the copy is: without row 9002 and its change, which were written after it was taken and which the run read.
        var log = "_dbsync_log_" + Local(path, "SELECT id FROM _dbsync_tables WHERE name = 'item'");
        var last = Local(path, $"SELECT max(seq) FROM \"{log}\"");
        SyncFixture.Execute(path, $"DELETE FROM item WHERE id = 9002; DELETE FROM \"{log}\" WHERE seq >= {last};");

        var error = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, ConflictPolicy.SourceWins));

        Assert.Equal("DbSync.DuplicateNodeId", error.ErrorId);
        Assert.Contains("taken while that run was running", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id > 9000"));
        // Its own identity, then a resync, make PostgreSQL match it.
        await _engine.ResetNodeAsync(new ResetNodeRequest { Path = path, ConnectionString = TestServer.ConnectionString });
        Assert.Equal(SyncStatus.Succeeded, (await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Resync = true })).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_copy_taken_while_a_run_was_running_is_refused_also_after_writing_as_many_changes_as_that_run_read()
    {
        // The copy numbered its own changes as the original did: once it had written as many as the run read, the log held
        // a change under the run's last seq, the copy passed for the original, and its changes up to there were taken for
        // applied and marked synced, never pushed (fleet exploration, F1).
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "INSERT INTO item VALUES (9001, 'before the copy', NULL); INSERT INTO item VALUES (9002, 'after the copy', NULL);");
        await SyncUnrecordedAsync(path);
        // As the copy is: without row 9002 and its change, then with changes of its own, more than the run read.
        var log = "_dbsync_log_" + Local(path, "SELECT id FROM _dbsync_tables WHERE name = 'item'");
        var last = Local(path, $"SELECT max(seq) FROM \"{log}\"");
        SyncFixture.Execute(path, $"DELETE FROM item WHERE id = 9002; DELETE FROM \"{log}\" WHERE seq >= {last};");
        SyncFixture.Execute(path, string.Concat(Enumerable.Range(9500, 5).Select(id => $"INSERT INTO item VALUES ({id}, 'copy', NULL);")));
        Assert.Equal("1", Local(path, $"SELECT count(*) FROM \"{log}\" WHERE seq = {last}"));

        var error = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, ConflictPolicy.SourceWins));

        Assert.Equal("DbSync.DuplicateNodeId", error.ErrorId);
        Assert.Contains("taken while that run was running", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id >= 9500"));
        Assert.Equal(6, await PendingAsync(path)); // row 9001 too: the file never recorded that run
        await _engine.ResetNodeAsync(new ResetNodeRequest { Path = path, ConnectionString = TestServer.ConnectionString });
        Assert.Equal(SyncStatus.Succeeded, (await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Resync = true })).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_change_log_an_earlier_DbSync_made_gets_each_change_numbered_and_keeps_its_pending_changes()
    {
        var path = await SyncedItemsAsync();
        var log = "_dbsync_log_" + Local(path, "SELECT id FROM _dbsync_tables WHERE name = 'item'");
        // The log as an earlier DbSync made it, with changes pending in it.
        SyncFixture.Execute(path, $"DROP TABLE \"{log}\"; CREATE TABLE \"{log}\" (seq INTEGER PRIMARY KEY, op INTEGER NOT NULL, k1, at TEXT DEFAULT CURRENT_TIMESTAMP);");
        SyncFixture.Execute(path, "UPDATE item SET name = 'old log' WHERE id = 1; DELETE FROM item WHERE id = 2;");
        Assert.Equal("2", Local(path, $"SELECT count(*) FROM \"{log}\""));

        var result = await SyncAsync(path, ConflictPolicy.SourceWins);

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L, "Push"), (result.Status, result.Updated, result.Deleted, Assert.Single(result.Tables).Mode));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        SyncFixture.Execute(path, "INSERT INTO item VALUES (4, 'new', NULL)");
        Assert.Equal("1", Local(path, $"SELECT count(*) FROM \"{log}\" WHERE entry IS NOT NULL"));
    }

    [Fact]
    public async Task After_a_run_whose_commit_the_file_never_recorded_its_own_deletes_are_no_conflict_and_another_writers_still_are()
    {
        // TargetWins is where a false DeletedInTarget costs most: it would delete the row in SQLite too.
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "DELETE FROM item WHERE id = 2; UPDATE item SET name = 'local' WHERE id = 3;");
        await SyncUnrecordedAsync(path);

        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id = 2"));
        Assert.Equal("local", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 3"));
        // The file gets row 2 back; another writer deletes row 3, which the unrecorded run had written.
        SyncFixture.Execute(path, "INSERT INTO item VALUES (2, 'again', '2024-01-05 00:00:00'); UPDATE item SET name = 'local 2' WHERE id = 3;");
        _fixture.PgExecute($"DELETE FROM {Table} WHERE id = 3");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (result.Status, result.Conflicts, result.ConflictsResolved));
        var record = Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal(ConflictKind.DeletedInTarget, record.Kind);
        Assert.Contains("\"id\": 3", record.Key, StringComparison.Ordinal);
        Assert.Equal("again", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 2"));
        Assert.Equal("again", Local(path, "SELECT name FROM item WHERE id = 2"));
        Assert.Null(Local(path, "SELECT name FROM item WHERE id = 3"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, await PendingAsync(path));

        // Recorded now: the next run finds nothing to do and no conflict.
        var next = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.Succeeded, 0L, 0L, 0L, 0L), (next.Status, next.Inserted, next.Updated, next.Deleted, next.Conflicts));
    }

    [Fact]
    public async Task After_a_run_whose_commit_the_file_never_recorded_the_rows_the_target_won_are_not_pushed_over_it_but_written_here()
    {
        // The unrecorded run made the rows the target won this node's in PostgreSQL; pushed again, the local versions
        // went over the ones that won, with no conflict seen.
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg' WHERE id IN (1, 2, 3)");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id IN (1, 3); DELETE FROM item WHERE id = 2;");
        await SyncUnrecordedAsync(path);

        Assert.Equal(3, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE name = 'pg'"));
        // Row 3 changes here again after that run: that change is new, and goes to PostgreSQL as any other would.
        SyncFixture.Execute(path, "UPDATE item SET name = 'later' WHERE id = 3");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 0L, 1L, 0L, 0L), (result.Status, result.Inserted, result.Updated, result.Deleted, result.Conflicts));
        Assert.Equal("pg|pg|later", _fixture.PgText($"SELECT string_agg(name, '|' ORDER BY id) FROM {Table}"));
        Assert.Equal("pg|pg|later", Local(path, "SELECT group_concat(name, '|') FROM (SELECT name FROM item ORDER BY id)"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, await PendingAsync(path));
        Assert.Equal(3, (await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path })).Count);
        var next = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.Succeeded, 0L, 0L, 0L, 0L), (next.Status, next.Inserted, next.Updated, next.Deleted, next.Conflicts));
    }

    [Theory]
    [InlineData(ConflictPolicy.SourceWins)]
    [InlineData(ConflictPolicy.TargetWins)]
    [InlineData(ConflictPolicy.Fail)]
    public async Task After_a_run_whose_commit_the_file_never_recorded_the_rows_it_applied_are_synced_and_another_writers_later_change_stays(ConflictPolicy policy)
    {
        // Pushed again as conflicts, the file's already-committed versions went over another writer's later update and
        // re-inserted its delete under SourceWins (interrupt exploration, F1); without the crash nothing was pending for them.
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id IN (1, 2, 3)");
        await SyncUnrecordedAsync(path);
        Assert.Equal(3, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE name = 'local'"));
        _fixture.PgExecute($"UPDATE {Table} SET name = 'later' WHERE id = 1; DELETE FROM {Table} WHERE id = 2");
        // A change made here after that run is new, and pushed as any other.
        SyncFixture.Execute(path, "INSERT INTO item VALUES (4, 'four', NULL)");

        var result = await SyncAsync(path, policy);

        Assert.Equal((SyncStatus.Succeeded, 1L, 0L, 0L, 0L, 0L), (result.Status, result.Inserted, result.Updated, result.Deleted, result.Conflicts, result.ConflictsResolved));
        Assert.Equal("1=later|3=local|4=four", _fixture.PgText($"SELECT string_agg(id || '=' || name, '|' ORDER BY id) FROM {Table}"));
        // The file keeps what it had, as it would have had that run been recorded.
        Assert.Equal("1=local|2=local|3=local|4=four", Local(path, "SELECT group_concat(id || '=' || name, '|') FROM (SELECT id, name FROM item ORDER BY id)"));
        Assert.Empty(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal(0, await PendingAsync(path));
        var next = await SyncAsync(path, policy);
        Assert.Equal((SyncStatus.Succeeded, 0L, 0L, 0L, 0L), (next.Status, next.Inserted, next.Updated, next.Deleted, next.Conflicts));
    }

    [Fact]
    public async Task After_a_run_whose_commit_the_file_never_recorded_a_row_postgresql_refused_in_it_is_still_held_and_pushed_once_it_can_be()
    {
        // That run held row 1 back (PostgreSQL's CHECK): it did not apply it, so the row is not taken for synced.
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"ALTER TABLE {Table} ADD CONSTRAINT no_bad CHECK (name <> 'bad')");
        SyncFixture.Execute(path, "UPDATE item SET name = 'bad' WHERE id = 1; UPDATE item SET name = 'local' WHERE id = 2;");
        await SyncUnrecordedAsync(path);
        Assert.Equal("one|local", _fixture.PgText($"SELECT string_agg(name, '|' ORDER BY id) FROM {Table} WHERE id IN (1, 2)"));

        var result = await SyncAsync(path, ConflictPolicy.SourceWins);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (result.Status, result.Quarantined));
        _fixture.PgExecute($"ALTER TABLE {Table} DROP CONSTRAINT no_bad");
        var healed = await SyncAsync(path, ConflictPolicy.SourceWins);
        Assert.Equal((SyncStatus.Succeeded, 1L, 0L), (healed.Status, healed.Updated, healed.Conflicts));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task After_a_TargetWins_run_whose_commit_the_file_never_recorded_the_file_gets_the_versions_that_won_then_and_counts_no_conflict_twice()
    {
        // The next run counted that run's conflicts as resolved (resolved > conflicts), wrote PostgreSQL's current rows into
        // the file and deleted rows another writer deleted after that run, with no conflict recorded (interrupt exploration, F3).
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pgA' WHERE id IN (1, 2)");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id IN (1, 2, 3)");
        await SyncUnrecordedAsync(path);
        Assert.Equal("pgA|pgA|local", _fixture.PgText($"SELECT string_agg(name, '|' ORDER BY id) FROM {Table}"));
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pgB' WHERE id = 1; DELETE FROM {Table} WHERE id = 2");

        var result = await SyncAsync(path, ConflictPolicy.TargetWins);

        Assert.Equal((SyncStatus.Succeeded, 0L, 0L, 0L, 0L, 0L), (result.Status, result.Inserted, result.Updated, result.Deleted, result.Conflicts, result.ConflictsResolved));
        Assert.True(result.Tables.All(t => t.ConflictsResolved <= t.Conflicts));
        // What that run would have written: the versions it saw win; later changes by the other writer are not the file's.
        Assert.Equal("1=pgA|2=pgA|3=local", Local(path, "SELECT group_concat(id || '=' || name, '|') FROM (SELECT id, name FROM item ORDER BY id)"));
        Assert.Equal("1=pgB|3=local", _fixture.PgText($"SELECT string_agg(id || '=' || name, '|' ORDER BY id) FROM {Table}"));
        Assert.Equal(2, (await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path })).Count);
        Assert.Equal(0, await PendingAsync(path));
        var next = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.Succeeded, 0L, 0L, 0L, 0L), (next.Status, next.Inserted, next.Updated, next.Deleted, next.Conflicts));
    }

    [Theory]
    [InlineData(ConflictPolicy.TargetWins, false)]
    [InlineData(ConflictPolicy.SourceWins, false)]
    [InlineData(ConflictPolicy.TargetWins, true)]
    public async Task After_a_run_whose_commit_the_file_never_recorded_a_run_of_other_tables_leaves_its_changes_of_the_rest_applied(ConflictPolicy policy, bool partialUnrecorded)
    {
        // A run of item only (sync --table, quarantine --retry) settled the unrecorded run for the whole file: the next
        // full run pushed its changes of note again, so the row deleted then and inserted again here since was a
        // DeletedInTarget conflict that deleted it here too under TargetWins, and another writer's later update was a
        // conflict, lost under SourceWins (interrupt exploration, F4).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT);
            INSERT INTO item VALUES (1, 'one'), (2, 'two');
            INSERT INTO note VALUES (1, 'a'), (2, 'b'), (3, 'c');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var note = $"\"{_fixture.Schema}\".note";
        SyncFixture.Execute(path, "DELETE FROM note WHERE id = 2; UPDATE note SET body = 'local' WHERE id = 3; UPDATE item SET name = 'local' WHERE id = 1;");
        await SyncUnrecordedAsync(path);
        Assert.Equal("1=a|3=local", _fixture.PgText($"SELECT string_agg(id || '=' || body, '|' ORDER BY id) FROM {note}"));
        // The application inserts row 2 again; another writer updates row 3 in PostgreSQL.
        SyncFixture.Execute(path, "INSERT INTO note VALUES (2, 'again'); UPDATE item SET name = 'local 2' WHERE id = 2;");
        _fixture.PgExecute($"UPDATE {note} SET body = 'later' WHERE id = 3");

        // A run of item alone, recorded (or itself unrecorded, another crash).
        if (partialUnrecorded)
        {
            await SyncUnrecordedAsync(path, "item");
        }
        else
        {
            var partial = await _engine.SyncAsync(new SyncRequest
            {
                Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = policy, Tables = ["item"],
            });
            Assert.Equal((SyncStatus.Succeeded, 1L, 0L), (partial.Status, partial.Updated, partial.Conflicts));
        }

        var result = await SyncAsync(path, policy);

        Assert.Equal((SyncStatus.Succeeded, 1L, 0L, 0L), (result.Status, result.Inserted, result.Deleted, result.Conflicts));
        Assert.Equal("1=a|2=again|3=later", _fixture.PgText($"SELECT string_agg(id || '=' || body, '|' ORDER BY id) FROM {note}"));
        // The file keeps what it had, as it would have had that run been recorded.
        Assert.Equal("1=a|2=again|3=local", Local(path, "SELECT group_concat(id || '=' || body, '|') FROM (SELECT id, body FROM note ORDER BY id)"));
        Assert.Equal("local|local 2", _fixture.PgText($"SELECT string_agg(name, '|' ORDER BY id) FROM {Table}"));
        Assert.Empty(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal(0, await PendingAsync(path));
        var next = await SyncAsync(path, policy);
        Assert.Equal((SyncStatus.Succeeded, 0L, 0L, 0L, 0L), (next.Status, next.Inserted, next.Updated, next.Deleted, next.Conflicts));
    }

    [Theory]
    [InlineData(ConflictPolicy.TargetWins)]
    [InlineData(ConflictPolicy.SourceWins)]
    public async Task After_two_runs_in_a_row_whose_commits_the_file_never_recorded_the_file_gets_the_versions_the_first_ones_target_won(ConflictPolicy policy)
    {
        // The second run recovered the first one's target-won rows (not pushed, not counted); the run after it took them
        // for rows the second had applied and marked them synced, so the file kept its losing version for good.
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg' WHERE id IN (1, 2)");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id IN (1, 3); DELETE FROM item WHERE id = 2;");
        await SyncUnrecordedAsync(path);
        await SyncUnrecordedAsync(path);
        Assert.Equal("1=pg|2=pg|3=local", _fixture.PgText($"SELECT string_agg(id || '=' || name, '|' ORDER BY id) FROM {Table}"));

        var result = await SyncAsync(path, policy);

        Assert.Equal((SyncStatus.Succeeded, 0L, 0L, 0L, 0L, 0L), (result.Status, result.Inserted, result.Updated, result.Deleted, result.Conflicts, result.ConflictsResolved));
        Assert.Equal("1=pg|2=pg|3=local", _fixture.PgText($"SELECT string_agg(id || '=' || name, '|' ORDER BY id) FROM {Table}"));
        Assert.Equal("1=pg|2=pg|3=local", Local(path, "SELECT group_concat(id || '=' || name, '|') FROM (SELECT id, name FROM item ORDER BY id)"));
        Assert.Equal(2, (await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path })).Count);
        Assert.Equal(0, await PendingAsync(path));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Tables_an_older_version_made_get_the_snapshots_column_and_a_role_that_may_not_add_it_gets_a_warning()
    {
        // In a database of its own: the dbsync tables there are changed under the runs' feet.
        var database = "dbsync_upgrade_" + Guid.NewGuid().ToString("N")[..8];
        var role = "dbsync_user_" + Guid.NewGuid().ToString("N")[..8];
        var password = "pw-" + Guid.NewGuid().ToString("N");
        _fixture.PgExecute($"CREATE DATABASE {database}");
        var admin = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Database = database, Pooling = false }.ConnectionString;
        void Admin(string sql)
        {
            using var connection = new NpgsqlConnection(admin);
            connection.Open();
            using var command = new NpgsqlCommand(sql, connection);
            command.ExecuteNonQuery();
        }

        bool HasSnapshots()
        {
            using var connection = new NpgsqlConnection(admin);
            connection.Open();
            using var command = new NpgsqlCommand("SELECT count(*) FROM pg_attribute WHERE attrelid = 'dbsync.nodes'::regclass AND attname = 'snapshots' AND NOT attisdropped", connection);
            return (long)command.ExecuteScalar()! == 1;
        }

        try
        {
            var path = await SyncedItemsAsync();
            var request = new SyncRequest { Path = path, ConnectionString = admin, Schema = _fixture.Schema };
            Assert.Equal(SyncStatus.Succeeded, (await _engine.SyncAsync(request)).Status);
            Assert.True(HasSnapshots());

            // The layout of 0.1, owned by an administrator; the role may use the tables but not alter them.
            Admin($"""
                ALTER TABLE dbsync.nodes DROP COLUMN snapshots;
                CREATE ROLE {role} LOGIN PASSWORD '{password}';
                GRANT USAGE ON SCHEMA dbsync TO {role};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dbsync TO {role};
                GRANT USAGE ON ALL SEQUENCES IN SCHEMA dbsync TO {role};
                GRANT USAGE, CREATE ON SCHEMA "{_fixture.Schema}" TO {role};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{_fixture.Schema}" TO {role};
                GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "{_fixture.Schema}" TO {role};
                """);
            SyncFixture.Execute(path, "UPDATE item SET name = 'as the role' WHERE id = 1");
            var asRole = new NpgsqlConnectionStringBuilder(admin) { Username = role, Password = password }.ConnectionString;
            var check = (await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = asRole, Schema = _fixture.Schema }))
                .Single(c => c.Name == "Target.DbSyncSchema");
            Assert.Equal(CheckStatus.Warning, check.Status);
            Assert.StartsWith("ALTER TABLE dbsync.nodes ADD COLUMN snapshots jsonb", check.Fix, StringComparison.Ordinal);

            var result = await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = asRole, Schema = _fixture.Schema });

            Assert.Equal(SyncStatus.Succeeded, result.Status);
            Assert.Equal(1, result.Updated);
            Assert.Contains(result.Warnings, w => w.Contains("ALTER TABLE dbsync.nodes ADD COLUMN snapshots jsonb", StringComparison.Ordinal));
            Assert.False(HasSnapshots());

            // The owner's next run adds it.
            SyncFixture.Execute(path, "UPDATE item SET name = 'as the owner' WHERE id = 1");
            result = await _engine.SyncAsync(request);
            Assert.Equal((SyncStatus.Succeeded, 1L), (result.Status, result.Updated));
            Assert.DoesNotContain(result.Warnings, w => w.Contains("snapshots", StringComparison.Ordinal));
            Assert.True(HasSnapshots());
            Assert.Equal(CheckStatus.Pass, (await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = asRole, Schema = _fixture.Schema }))
                .Single(c => c.Name == "Target.DbSyncSchema").Status);
        }
        finally
        {
            _fixture.PgExecute($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            _fixture.PgExecute($"DROP ROLE IF EXISTS {role}");
        }
    }

    [Fact]
    public async Task A_row_another_writer_inserts_while_the_run_applies_the_same_key_is_a_conflict_not_overwritten()
    {
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "INSERT INTO item VALUES (4, 'four', '2024-01-02 00:00:00'), (5, 'five', '2024-01-02 00:00:00');");
        var raced = false;
        // One row a batch: once key 4 is written, another writer inserts key 5, which the run was about to insert. The
        // classification could not lock a row that did not exist yet.
        var progress = new InlineProgress<SyncProgress>(p =>
        {
            if (p is { Table: "item", Phase: SyncPhase.Applying, Rows: 1 } && !raced)
            {
                _fixture.PgExecute($"INSERT INTO {Table} VALUES (5, 'pg', '2024-01-03 00:00:00')");
                raced = true;
            }
        });

        var result = await _engine.SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = ConflictPolicy.TargetWins, BatchSize = 1,
        }, progress);

        Assert.True(raced);
        Assert.Equal((SyncStatus.Succeeded, 1L, 1L, 1L), (result.Status, result.Inserted, result.Conflicts, result.ConflictsResolved));
        await AssertTargetWonAsync(path, 5);
        Assert.Equal("four", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 4"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_row_another_writer_commits_while_the_runs_insert_of_that_key_waits_is_a_conflict_in_a_batch_that_inserts_others_too()
    {
        // The run's check could not see the writer's uncommitted row 5; its insert of key 5 waited for it, then left it
        // alone. The same statement inserted key 4, which the count of rows written took for row 5 already being this
        // node's: row 5 was marked synced, never written, and nothing recorded (fleet exploration, S1).
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "INSERT INTO item VALUES (4, 'four', '2024-01-02 00:00:00'), (5, 'five', '2024-01-02 00:00:00');");
        await using var writer = new NpgsqlConnection(TestServer.ConnectionString);
        await writer.OpenAsync();
        await using var transaction = await writer.BeginTransactionAsync();
        string xid;
        await using (var insert = new NpgsqlCommand($"INSERT INTO {Table} VALUES (5, 'pg', '2024-01-03 00:00:00'); SELECT txid_current()::text", writer, transaction))
        {
            xid = (string)(await insert.ExecuteScalarAsync())!;
        }

        var sync = _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = ConflictPolicy.TargetWins });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (_fixture.PgScalar($"SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND transactionid::text = '{xid}'") == 0)
        {
            Assert.False(sync.IsCompleted || clock.Elapsed > TimeSpan.FromSeconds(60), "the run never waited for the other writer's row");
            await Task.Delay(20);
        }

        await transaction.CommitAsync();
        var result = await sync;

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L, 1L), (result.Status, result.Inserted, result.Conflicts, result.ConflictsResolved));
        await AssertTargetWonAsync(path, 5);
        Assert.Equal("four", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 4"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Theory]
    [InlineData(ConflictPolicy.SourceWins)]
    [InlineData(ConflictPolicy.TargetWins)]
    public async Task Conflicts_are_found_in_batches_whose_updates_were_all_this_nodes_and_in_batches_with_one_that_was_not(ConflictPolicy policy)
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12) INSERT INTO item SELECT i, 'item ' || i, '2024-01-01' FROM n;
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        // Three rows a batch, in key order. Batch 1: two updates of this node's rows (applied at once), and a local
        // delete of a row another writer changed. Batch 2: an update of this node's row, an update of a row another
        // writer changed, an update that leaves the values as they were. Batch 3: an update of a row another writer
        // deleted, and a delete of this node's row. Batch 4: an update of this node's row (applied at once), an insert
        // under a key another writer inserted with other values, and a plain insert.
        _fixture.PgExecute($"""
            UPDATE {Table} SET name = 'pg' WHERE id IN (3, 5);
            DELETE FROM {Table} WHERE id = 9;
            INSERT INTO {Table} VALUES (13, 'pg', '2024-01-03');
            """);
        SyncFixture.Execute(path, """
            UPDATE item SET name = 'local' WHERE id IN (1, 2, 4, 5, 7, 9, 12);
            UPDATE item SET name = name WHERE id = 6;
            DELETE FROM item WHERE id IN (3, 10);
            INSERT INTO item VALUES (13, 'local', '2024-01-02'), (14, 'local', '2024-01-02');
            """);

        var result = await _engine.SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = policy, BatchSize = 3,
        });

        var conflicts = await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path });
        Assert.Equal(
            ["3 DeletedLocally", "5 Changed", "9 DeletedInTarget", "13 Changed"],
            conflicts.Select(c => (Id: System.Text.Json.JsonDocument.Parse(c.Key).RootElement.GetProperty("id").GetInt64(), c.Kind)).Order().Select(c => $"{c.Id} {c.Kind}"));
        // Source wins: 1 2 4 5 7 12 13 updated, 9 and 14 inserted, 3 and 10 deleted. Target wins: 1 2 4 7 12, 14, 10.
        Assert.Equal(policy == ConflictPolicy.SourceWins ? (SyncStatus.Succeeded, 4L, 4L, 7L, 2L, 2L) : (SyncStatus.Succeeded, 4L, 4L, 5L, 1L, 1L),
            (result.Status, result.Conflicts, result.ConflictsResolved, result.Updated, result.Inserted, result.Deleted));
        Assert.Equal(policy == ConflictPolicy.SourceWins ? "local" : "pg", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 13"));
        Assert.Equal(0, await PendingAsync(path));
        TableComparer.AssertIdentical(path, _fixture.Schema);

        // Every row is this node's again: a later change to each is no conflict.
        SyncFixture.Execute(path, "UPDATE item SET name = 'later'");
        var later = await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, BatchSize = 3 });
        Assert.Equal((0L, 12L), (later.Conflicts, later.Updated));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_row_another_writer_changes_while_the_push_waits_to_update_it_is_a_conflict_not_overwritten()
    {
        var path = await SyncedItemsAsync();
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id IN (1, 2, 3)");
        // Another writer holds row 2: the push's UPDATE of this node's rows waits for it, then finds the row it committed,
        // last written by someone else, and leaves it to the classification.
        using var other = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Pooling = false }.ConnectionString);
        other.Open();
        using var transaction = other.BeginTransaction();
        string xid;
        using (var update = new NpgsqlCommand($"UPDATE {Table} SET name = 'pg' WHERE id = 2; SELECT pg_current_xact_id()::text", other, transaction))
        {
            xid = (string)update.ExecuteScalar()!;
        }

        var push = _engine.SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = ConflictPolicy.TargetWins,
        });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_fixture.PgScalar($"SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND transactionid::text = '{xid}'") == 0
            && DateTime.UtcNow < deadline && !push.IsCompleted)
        {
            await Task.Delay(20);
        }

        Assert.False(push.IsCompleted);
        transaction.Commit();
        var result = await push;

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L, 2L), (result.Status, result.Conflicts, result.ConflictsResolved, result.Updated));
        await AssertTargetWonAsync(path, 2);
        Assert.Equal("local", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_conflict_whose_winning_write_postgresql_refuses_is_recorded_once_with_no_winner()
    {
        // The node deletes a parent another writer changed and gave a child in PostgreSQL: SourceWins "wins", PostgreSQL
        // refuses the delete, and the row is held. Each later run met it again and recorded it again, as winner Source,
        // though nothing was written (conflicts exploration, F4).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));
            INSERT INTO parent VALUES (1, 'p'), (2, 'q');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".parent SET name = 'pg' WHERE id = 1; INSERT INTO \"{_fixture.Schema}\".child VALUES (9, 1)");
        SyncFixture.Execute(path, "DELETE FROM parent WHERE id = 1");

        for (var run = 0; run < 3; run++)
        {
            var result = await SyncAsync(path, ConflictPolicy.SourceWins);
            Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 0L, 1L), (result.Status, result.Conflicts, result.ConflictsResolved, result.Quarantined));
        }

        Assert.Equal("pg", _fixture.PgText($"SELECT name FROM \"{_fixture.Schema}\".parent WHERE id = 1"));
        var record = Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal((ConflictKind.DeletedLocally, ConflictPolicy.SourceWins, "None"), (record.Kind, record.Policy, record.Winner));
        var held = Assert.Single(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal((HeldKind.Quarantined, "(id=1)"), (held.Kind, held.Key));

        // Once the child is gone, the delete goes through, and that run records the conflict as won.
        _fixture.PgExecute($"DELETE FROM \"{_fixture.Schema}\".child");
        var settled = await SyncAsync(path, ConflictPolicy.SourceWins);
        Assert.Equal((SyncStatus.Succeeded, 1L, 1L, 1L), (settled.Status, settled.Conflicts, settled.ConflictsResolved, settled.Deleted));
        var records = await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path });
        Assert.Equal(["Source", "None"], records.Select(r => r.Winner));
    }

    [Fact]
    public async Task A_conflict_is_stamped_when_it_is_recorded_so_since_a_poll_during_the_run_finds_it()
    {
        // `at` was the run's transaction start: a poller that polled while the run was waiting or applying, and next asked
        // for conflicts since that poll, never saw the conflict (conflicts exploration, F5).
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id = 1");
        DateTime? poll = null;
        var progress = new InlineProgress<SyncProgress>(p =>
        {
            if (p.Phase == SyncPhase.Staging && poll is null)
            {
                Thread.Sleep(1500);
                poll = DateTime.UtcNow;
            }
        });

        var result = await _engine.SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = ConflictPolicy.SourceWins,
        }, progress);

        Assert.Equal(1, result.Conflicts);
        Assert.NotNull(poll);
        var record = Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path, Since = poll }));
        Assert.True(record.At >= poll, $"at {record.At:O} is before the poll at {poll:O}");
    }

    [Fact]
    public async Task Newest_keeps_the_source_row_when_either_side_has_no_timestamp()
    {
        // A NULL on the node's side made the target win, and the node's later write was reverted in the file
        // (conflicts exploration, F6): neither side's time is known, so the source wins, as for a delete.
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"UPDATE {Table} SET name = 'pg', updated_at = '2024-01-03 00:00:00' WHERE id = 1; UPDATE {Table} SET name = 'pg', updated_at = NULL WHERE id = 2");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local', updated_at = NULL WHERE id = 1; UPDATE item SET name = 'local', updated_at = '2020-01-01 00:00:00' WHERE id = 2");

        var result = await SyncAsync(path, ConflictPolicy.Newest, "updated_at");

        Assert.Equal((2L, 2L), (result.Conflicts, result.ConflictsResolved));
        Assert.Equal("local|local", _fixture.PgText($"SELECT string_agg(name, '|' ORDER BY id) FROM {Table} WHERE id IN (1, 2)"));
        Assert.Equal("local|local", Local(path, "SELECT group_concat(name, '|') FROM (SELECT name FROM item WHERE id IN (1, 2) ORDER BY id)"));
        Assert.All(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }), r => Assert.Equal("Source", r.Winner));
    }

    [Fact]
    public async Task Newest_on_a_text_column_compares_date_times_and_numbers_as_such()
    {
        // A TEXT newest column was compared as text: '... 12:00' lost to an older '...T10:00' (' ' sorts before 'T'), an
        // offset was ignored, and Unix seconds lost whenever the digit count differed (fidelity exploration, F5).
        var path = await SyncedItemsAsync();
        _fixture.PgExecute($"""
            UPDATE {Table} SET name = 'pg', updated_at = '2024-03-01T10:00:00' WHERE id = 1;
            UPDATE {Table} SET name = 'pg', updated_at = '2024-03-01T13:00:00+02:00' WHERE id = 2;
            UPDATE {Table} SET name = 'pg', updated_at = '999999999' WHERE id = 3;
            """);
        SyncFixture.Execute(path, """
            UPDATE item SET name = 'local', updated_at = '2024-03-01 12:00:00' WHERE id = 1;
            UPDATE item SET name = 'local', updated_at = '2024-03-01 12:00:00' WHERE id = 2;
            UPDATE item SET name = 'local', updated_at = '1000000000' WHERE id = 3;
            """);

        var result = await SyncAsync(path, ConflictPolicy.Newest, "updated_at");

        Assert.Equal((3L, 3L), (result.Conflicts, result.ConflictsResolved));
        Assert.Equal("local|local|local", _fixture.PgText($"SELECT string_agg(name, '|' ORDER BY id) FROM {Table}"));

        // The other way round, each PostgreSQL row is the newer one and wins.
        _fixture.PgExecute($"""
            UPDATE {Table} SET name = 'pg2', updated_at = '2024-03-01T12:30:00' WHERE id = 1;
            UPDATE {Table} SET name = 'pg2', updated_at = '2024-03-01T14:30:00+02:00' WHERE id = 2;
            UPDATE {Table} SET name = 'pg2', updated_at = '1000000001' WHERE id = 3;
            """);
        SyncFixture.Execute(path, "UPDATE item SET name = 'local2'");
        var back = await SyncAsync(path, ConflictPolicy.Newest, "updated_at");
        Assert.Equal((3L, 3L), (back.Conflicts, back.ConflictsResolved));
        Assert.Equal("pg2|pg2|pg2", _fixture.PgText($"SELECT string_agg(name, '|' ORDER BY id) FROM {Table}"));
        Assert.Equal("pg2|pg2|pg2", Local(path, "SELECT group_concat(name, '|') FROM (SELECT name FROM item ORDER BY id)"));
    }

    [Fact]
    public async Task A_conflict_on_a_row_too_large_for_a_jsonb_record_is_resolved_and_recorded_without_its_largest_values()
    {
        // A 130 MB blob is more than 256 MB as jsonb (hex): the conflict's record failed every run of the whole file with a
        // bare 54000 naming no table or row, and no other table was ever synced again (fidelity exploration, F3).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB, note TEXT);
            CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO big VALUES (1, zeroblob(130 * 1024 * 1024), 'orig'), (2, x'01', 'small');
            INSERT INTO other VALUES (1, 'a');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".big SET note = 'pg' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE big SET note = 'local' WHERE id = 1; UPDATE other SET v = 'b' WHERE id = 1");

        var result = await SyncAsync(path, ConflictPolicy.SourceWins);

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (result.Status, result.Conflicts, result.ConflictsResolved));
        Assert.Equal("local|136314880|b", _fixture.PgText(
            $"SELECT b.note || '|' || octet_length(b.data) || '|' || o.v FROM \"{_fixture.Schema}\".big AS b, \"{_fixture.Schema}\".other AS o WHERE b.id = 1"));
        var record = Assert.Single(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal((ConflictKind.Changed, "Source"), (record.Kind, record.Winner));
        Assert.Contains("\"note\": \"local\"", record.SourceRow, StringComparison.Ordinal);
        Assert.Contains("\"note\": \"pg\"", record.TargetRow, StringComparison.Ordinal);
        Assert.Contains("\"_dbsync_omitted\": [\"data\"]", record.SourceRow, StringComparison.Ordinal);
        Assert.Contains("\"_dbsync_omitted\": [\"data\"]", record.TargetRow, StringComparison.Ordinal);
        Assert.Equal(0, await PendingAsync(path));

        // The target's version wins back into the file whole.
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".big SET note = 'pg2' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE big SET note = 'local2' WHERE id = 1");
        var back = await SyncAsync(path, ConflictPolicy.TargetWins);
        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (back.Status, back.Conflicts, back.ConflictsResolved));
        Assert.Equal("pg2|136314880", Local(path, "SELECT note || '|' || length(data) FROM big WHERE id = 1"));
    }

    [Theory]
    [InlineData(ConflictPolicy.SourceWins, "touch on insert")]
    [InlineData(ConflictPolicy.TargetWins, "touch on insert")]
    [InlineData(ConflictPolicy.SourceWins, "touch on key change")]
    [InlineData(ConflictPolicy.TargetWins, "touch on key change")]
    [InlineData(ConflictPolicy.SourceWins, "replace removal put back")]
    [InlineData(ConflictPolicy.TargetWins, "replace removal put back")]
    [InlineData(ConflictPolicy.SourceWins, "insert rejected")]
    [InlineData(ConflictPolicy.TargetWins, "insert rejected")]
    [InlineData(ConflictPolicy.SourceWins, "delete kept")]
    [InlineData(ConflictPolicy.TargetWins, "delete kept")]
    public async Task An_application_trigger_newer_than_capture_writing_the_same_row_makes_no_false_conflict(ConflictPolicy policy, string shape)
    {
        // SQLite fires the most recently created trigger first: an application's AFTER trigger created after DbSync's
        // logs its own write to the row before DbSync's trigger logs the statement that fired it. A "touch updated_at"
        // trigger made a new row's log read [update, insert], and the push took the row for one PostgreSQL had lost:
        // DeletedInTarget, and under TargetWins the application's new row was deleted from the file (capture2, F1).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, updated_at TEXT);
            INSERT INTO item VALUES (1, 'one', NULL), (2, 'two', NULL);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var (trigger, write, expected) = shape switch
        {
            "touch on insert" => (
                "CREATE TRIGGER item_touch AFTER INSERT ON item BEGIN UPDATE item SET updated_at = 'touched' WHERE id = NEW.id; END",
                "INSERT INTO item (id, name) VALUES (3, 'three')", "1:one:|2:two:|3:three:touched"),
            "touch on key change" => (
                "CREATE TRIGGER item_touch AFTER UPDATE OF id ON item BEGIN UPDATE item SET updated_at = 'touched' WHERE id = NEW.id; END",
                "UPDATE item SET id = 30 WHERE id = 1", "2:two:|30:one:touched"),
            // The REPLACE removes row 1 (its `_ri` trigger logs it as an update), then row 1 is inserted again, touched.
            "replace removal put back" => (
                "CREATE TRIGGER item_touch AFTER INSERT ON item BEGIN UPDATE item SET updated_at = 'touched' WHERE id = NEW.id; END",
                "INSERT OR REPLACE INTO item (id, name) VALUES (3, 'one'); INSERT INTO item (id, name) VALUES (1, 'one again')",
                "1:one again:touched|2:two:|3:one:touched"),
            "insert rejected" => (
                "CREATE TRIGGER item_reject AFTER INSERT ON item WHEN NEW.name = 'rejected' BEGIN DELETE FROM item WHERE id = NEW.id; END",
                "INSERT INTO item (id, name) VALUES (3, 'rejected')", "1:one:|2:two:"),
            "delete kept" => (
                "CREATE TRIGGER item_keep AFTER DELETE ON item BEGIN INSERT INTO item (id, name, updated_at) VALUES (OLD.id, OLD.name, 'kept'); END",
                "DELETE FROM item WHERE id = 2", "1:one:|2:two:kept"),
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };
        SyncFixture.Execute(path, trigger);
        SyncFixture.Execute(path, write);

        var result = await SyncAsync(path, policy);

        Assert.Equal((SyncStatus.Succeeded, 0L), (result.Status, result.Conflicts));
        Assert.Empty(await _engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        Assert.Equal(expected, Local(path, "SELECT group_concat(id || ':' || name || ':' || coalesce(updated_at, ''), '|') FROM (SELECT * FROM item ORDER BY id)"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, await PendingAsync(path));
    }
}
