using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

public sealed class SchemaAndCaptureTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly SyncEngine _engine = new();

    public void Dispose() => _fixture.Dispose();

    private async Task<long> PendingAsync(string path) => (await _engine.GetStatusAsync(new StatusRequest { Path = path })).PendingChanges;

    [Fact]
    public async Task An_application_after_trigger_ending_in_raise_ignore_on_a_captured_table_is_warned_of_by_name_once()
    {
        // Such a trigger, created after DbSync's, fires first; its RAISE(IGNORE) keeps the row and skips DbSync's
        // trigger, so the write is never logged, and nothing said so (crash exploration, finding 1). The run that tells it
        // makes DbSync's triggers fire first, so later runs do not repeat it (they did, for good), and one older than
        // DbSync's, which never skips them, is not warned of.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE quiet (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE older (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TRIGGER app_older AFTER INSERT ON older WHEN new.v = 'skip-rest' BEGIN SELECT RAISE(IGNORE); END;
            """);
        Assert.DoesNotContain((await _fixture.SyncAsync(path)).Warnings, w => w.Contains("RAISE(IGNORE)", StringComparison.Ordinal));
        SyncFixture.Execute(path, """
            CREATE TRIGGER app_skip AFTER INSERT ON t WHEN new.v = 'skip-rest' BEGIN SELECT RAISE(IGNORE); END;
            CREATE TRIGGER app_before BEFORE INSERT ON quiet WHEN new.v = 'skip' BEGIN SELECT RAISE(IGNORE); END;
            INSERT INTO t VALUES (1, 'skip-rest');
            """);

        var result = await _fixture.SyncAsync(path);

        var warning = Assert.Single(result.Warnings, w => w.Contains("RAISE(IGNORE)", StringComparison.Ordinal));
        Assert.StartsWith("Table 't': the application's trigger 'app_skip' is an AFTER trigger", warning, StringComparison.Ordinal);
        // What it warns of: the row is in the file, and was never logged, so PostgreSQL does not have it.
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t"));

        SyncFixture.Execute(path, "INSERT INTO t VALUES (2, 'skip-rest'); INSERT INTO older VALUES (1, 'skip-rest');");
        var later = await _fixture.SyncAsync(path);

        Assert.DoesNotContain(later.Warnings, w => w.Contains("RAISE(IGNORE)", StringComparison.Ordinal));
        Assert.Equal(2, later.Inserted);
    }

    [Fact]
    public async Task Capture_triggers_behind_a_newer_application_trigger_are_made_again_so_that_they_fire_first()
    {
        // SQLite fires the newest trigger first: an application's AFTER trigger created after DbSync's logged its writes to
        // the row before the change that fired them (capture2 exploration, F1), and its RAISE(IGNORE) skipped DbSync's
        // trigger. The run that finds one makes DbSync's triggers again, unchanged, and copies nothing again.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, email TEXT UNIQUE);
            INSERT INTO t VALUES (1, 'a', 'a@x');
            """);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "CREATE TRIGGER app_skip AFTER INSERT ON T WHEN new.v = 'skip-rest' BEGIN SELECT RAISE(IGNORE); END;");

        var reordered = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, reordered.Status);
        Assert.Equal("Push", Assert.Single(reordered.Tables).Mode);
        Assert.DoesNotContain(reordered.Warnings, w => w.Contains("missing or altered", StringComparison.Ordinal));
        Assert.Equal("app_skip", Scalar(path, "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY rowid LIMIT 1"));

        SyncFixture.Execute(path, "INSERT INTO t VALUES (2, 'skip-rest', 'b@x')");
        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 1L), (result.Status, result.Inserted));
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        // Nothing is made again once DbSync's triggers come last.
        var version = Scalar(path, "PRAGMA schema_version");
        await _fixture.SyncAsync(path);
        Assert.Equal(version, Scalar(path, "PRAGMA schema_version"));
    }

    [Fact]
    public async Task A_nocase_or_rtrim_key_deleted_and_inserted_under_another_spelling_in_one_run_syncs_both()
    {
        // The deleted key was read back through the key's collation, found the new spelling, and both were upserted as
        // one row: every later run of the whole file failed with TargetError, until a --resync (fidelity exploration, S1).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE nc (k TEXT COLLATE NOCASE PRIMARY KEY, v TEXT);
            CREATE TABLE rt (k TEXT COLLATE RTRIM NOT NULL PRIMARY KEY, v TEXT) WITHOUT ROWID;
            CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO nc VALUES ('Abc', '1'), ('x', '2'); INSERT INTO rt VALUES ('a', '1'); INSERT INTO other VALUES (1, 'a');
            """);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, """
            DELETE FROM nc WHERE k = 'Abc'; INSERT INTO nc VALUES ('ABC', 'new');
            DELETE FROM rt WHERE k = 'a'; INSERT INTO rt VALUES ('a ', 'spaced');
            INSERT INTO other VALUES (2, 'b');
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal("ABC=new,x=2", _fixture.PgText($"SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM \"{_fixture.Schema}\".nc"));
        Assert.Equal("[a ]=spaced", _fixture.PgText($"SELECT string_agg('[' || k || ']=' || v, ',') FROM \"{_fixture.Schema}\".rt"));
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".other"));
        Assert.Equal(0, await PendingAsync(path));
    }

    [Fact]
    public async Task A_nocase_or_rtrim_key_changed_by_an_update_in_its_spelling_only_moves_the_row_in_postgresql()
    {
        // The update trigger told a key change through the key's collation: 'bob' to 'Bob' was an update of one key,
        // and PostgreSQL, which compares exactly, got 'Bob' as a new row beside 'bob' (documented, --resync to repair).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE nc (k TEXT COLLATE NOCASE PRIMARY KEY, v TEXT);
            CREATE TABLE rt (a INTEGER NOT NULL, k TEXT COLLATE RTRIM NOT NULL, v TEXT, PRIMARY KEY (a, k)) WITHOUT ROWID;
            INSERT INTO nc VALUES ('bob', '1'), ('x', '2'); INSERT INTO rt VALUES (1, 'a', '1');
            """);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "UPDATE nc SET k = 'Bob' WHERE k = 'bob'; UPDATE rt SET k = 'a ', v = 'spaced' WHERE k = 'a';");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 0L, 2L, 2L), (result.Status, result.Conflicts, result.Inserted, result.Deleted));
        Assert.Equal("Bob=1,x=2", _fixture.PgText($"SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM \"{_fixture.Schema}\".nc"));
        Assert.Equal("[a ]=spaced", _fixture.PgText($"SELECT string_agg('[' || k || ']=' || v, ',') FROM \"{_fixture.Schema}\".rt"));
        Assert.Equal(0, await PendingAsync(path));
    }

    [Fact]
    public async Task Capture_triggers_that_told_a_key_change_through_its_collation_are_upgraded_in_place_without_a_copy()
    {
        // A file captured before the exact key comparison: its update trigger captured every change, so it is replaced
        // in the next run's transaction, the table is not copied again, and status calls it intact meanwhile. (With an
        // update pending, which may be a key changed in its case only, it is copied once: the test after this one.)
        var path = _fixture.CreateDatabase("""
            CREATE TABLE nc (k TEXT COLLATE NOCASE PRIMARY KEY, v TEXT);
            INSERT INTO nc VALUES ('bob', '1');
            """);
        await _fixture.SyncAsync(path);
        string UpdateTrigger() => Scalar(path, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND substr(name, -2) = '_u'");
        var current = UpdateTrigger();
        Assert.Contains("COLLATE BINARY", current, StringComparison.Ordinal);
        var name = Scalar(path, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND substr(name, -2) = '_u'");
        SyncFixture.Execute(path, $"DROP TRIGGER \"{name}\"; {current.Replace(" COLLATE BINARY", "", StringComparison.Ordinal)}");
        SyncFixture.Execute(path, "INSERT INTO nc VALUES ('ann', 'two'); DELETE FROM nc WHERE k = 'bob'");

        var status = await _engine.GetStatusAsync(new StatusRequest { Path = path, Detailed = true });
        var result = await _fixture.SyncAsync(path);

        Assert.True(status.Tables.Single(t => t.Name == "nc").TriggersIntact);
        Assert.Equal((SyncStatus.Succeeded, "Push", 1L, 1L), (result.Status, result.Tables.Single().Mode, result.Inserted, result.Deleted));
        Assert.DoesNotContain(result.Warnings, w => w.Contains("missing or altered", StringComparison.Ordinal));
        Assert.Equal(current, UpdateTrigger());
        Assert.Equal("ann=two", _fixture.PgText($"SELECT string_agg(k || '=' || v, ',') FROM \"{_fixture.Schema}\".nc"));
    }

    [Theory]
    [InlineData(ConflictPolicy.SourceWins)]
    [InlineData(ConflictPolicy.TargetWins)]
    public async Task A_key_change_an_earlier_dbsync_logged_as_an_update_is_no_conflict_after_the_upgrade(ConflictPolicy policy)
    {
        // Pending when the upgrade replaced the update trigger: an earlier trigger logged these key changes as an update of
        // the new key alone (8d42b71's told a key change through the column's collation, so 'bob' to 'Bob' under NOCASE
        // was one; DbSync 0.1's logged every key change so). The push took the new key for a row deleted in PostgreSQL:
        // a DeletedInTarget conflict; under SourceWins PostgreSQL kept 'bob' beside 'Bob', under TargetWins 'Bob' was
        // deleted from the file, and both runs Succeeded (upgrade exploration, F1).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE nc (k TEXT COLLATE NOCASE PRIMARY KEY, v TEXT);
            CREATE TABLE rt (a INTEGER NOT NULL, k TEXT COLLATE RTRIM NOT NULL, v TEXT, PRIMARY KEY (a, k)) WITHOUT ROWID;
            CREATE TABLE moved (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE plain (k TEXT PRIMARY KEY, v TEXT);
            INSERT INTO nc VALUES ('bob', '1'), ('amy', '2'); INSERT INTO rt VALUES (1, 'a', '1'), (2, 'b', '2');
            INSERT INTO moved VALUES (1, 'one'), (2, 'two'); INSERT INTO plain VALUES ('p', '1');
            """);
        await _fixture.SyncAsync(path);
        string Id(string table) => Scalar(path, $"SELECT id FROM _dbsync_tables WHERE name = '{table}'");
        // The update triggers as 8d42b71 made them (and 0.1 for 'moved'), without the _ri/_ru triggers it had none of for a
        // primary key; each logs one change through it.
        string OldUpdateTrigger(string table, string[] keys, bool asIn01)
        {
            var (id, log) = (Id(table), $"\"_dbsync_log_{Id(table)}\"");
            var list = string.Join(", ", keys.Select((_, i) => $"k{i + 1}"));
            string Row(string row) => string.Join(", ", keys.Select(k => $"{row}.\"{k}\""));
            var changed = string.Join(" OR ", keys.Select(k => $"OLD.\"{k}\" IS NOT NEW.\"{k}\""));
            return $"DROP TRIGGER IF EXISTS \"_dbsync_{id}_ri\"; DROP TRIGGER IF EXISTS \"_dbsync_{id}_ru\"; DROP TRIGGER \"_dbsync_{id}_u\"; "
                + $"CREATE TRIGGER \"_dbsync_{id}_u\" AFTER UPDATE ON \"{table}\" BEGIN INSERT INTO {log} (op, {list}) SELECT 3, {Row("OLD")} WHERE {changed}; "
                + $"INSERT INTO {log} (op, {list}) VALUES ({(asIn01 ? "2" : $"CASE WHEN {changed} THEN 1 ELSE 2 END")}, {Row("NEW")}); END;";
        }

        SyncRequest Request() => new()
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = policy, LockTimeout = TimeSpan.FromSeconds(60),
        };

        SyncFixture.Execute(path, OldUpdateTrigger("nc", ["k"], false) + OldUpdateTrigger("rt", ["a", "k"], false)
            + OldUpdateTrigger("moved", ["id"], true) + OldUpdateTrigger("plain", ["k"], false));
        Assert.Contains("THEN 1 ELSE 2 END, NEW.\"k\"); END", Scalar(path, $"SELECT sql FROM sqlite_master WHERE name = '_dbsync_{Id("nc")}_u'"), StringComparison.Ordinal);
        SyncFixture.Execute(path, """
            UPDATE nc SET k = 'Bob' WHERE k = 'bob'; UPDATE rt SET k = 'a ', v = 'spaced' WHERE k = 'a';
            UPDATE moved SET id = 5 WHERE id = 1; UPDATE plain SET v = '2';
            """);
        Assert.Equal("2|Bob", Scalar(path, $"SELECT op || '|' || k1 FROM _dbsync_log_{Id("nc")}"));

        var result = await _engine.SyncAsync(Request());

        Assert.Equal((SyncStatus.Succeeded, 0L), (result.Status, result.Conflicts));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM dbsync.conflicts WHERE node_id = '{result.NodeId}'"));
        Assert.Equal("Bob=1,amy=2", _fixture.PgText($"SELECT string_agg(k || '=' || v, ',' ORDER BY k COLLATE \"C\") FROM \"{_fixture.Schema}\".nc"));
        Assert.Equal("[a ]=spaced,[b]=2", _fixture.PgText($"SELECT string_agg('[' || k || ']=' || v, ',' ORDER BY a) FROM \"{_fixture.Schema}\".rt"));
        Assert.Equal("2,5", _fixture.PgText($"SELECT string_agg(id::text, ',' ORDER BY id) FROM \"{_fixture.Schema}\".moved"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        // Those three are copied once, with a warning; a table whose earlier trigger logged nothing it misreads is pushed.
        Assert.Equal(["FullCopy", "FullCopy", "FullCopy", "Push"], new[] { "nc", "rt", "moved", "plain" }.Select(t => result.Tables.Single(r => r.Name == t).Mode));
        Assert.Equal(3, result.Warnings.Count(w => w.Contains("an earlier DbSync's update trigger logged are pending", StringComparison.Ordinal)));
        Assert.DoesNotContain(result.Warnings, w => w.Contains("missing or altered", StringComparison.Ordinal));
        Assert.Equal(0, await PendingAsync(path));
        // The triggers are this DbSync's now: the next key change of case is a delete and an insert, pushed, not copied.
        SyncFixture.Execute(path, "UPDATE nc SET k = 'BOB' WHERE k = 'Bob'");
        var next = await _engine.SyncAsync(Request());
        Assert.Equal((SyncStatus.Succeeded, 0L, "Push"), (next.Status, next.Conflicts, next.Tables.Single(r => r.Name == "nc").Mode));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_file_of_a_thousand_captured_tables_pushes_and_marks_its_changes_synced()
    {
        // Scale exploration F1: counting the change logs left was one SQLite sum with a term per table, deeper than
        // SQLite parses from about 997 tables ("Expression tree is too large"): PostgreSQL committed, then every run
        // failed with DbSync.BookkeepingFailed and never marked its changes synced.
        const int count = 1_000;
        var ddl = new System.Text.StringBuilder();
        for (var i = 0; i < count; i++)
        {
            ddl.Append(System.Globalization.CultureInfo.InvariantCulture, $"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t{i} VALUES (1, 'a');\n");
        }

        var path = _fixture.CreateDatabase(ddl.ToString());
        var load = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, (long)count), (load.Status, load.Inserted));
        var update = new System.Text.StringBuilder();
        for (var i = 0; i < count; i++)
        {
            update.Append(System.Globalization.CultureInfo.InvariantCulture, $"UPDATE t{i} SET v = 'b{i}';\n");
        }

        SyncFixture.Execute(path, update.ToString());

        var push = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, (long)count), (push.Status, push.Updated));
        Assert.Equal(0, (await _engine.GetStatusAsync(new StatusRequest { Path = path })).PendingChanges);
        Assert.Equal("b999", _fixture.PgText($"SELECT v FROM \"{_fixture.Schema}\".t999"));
    }

    [Fact]
    public async Task Tables_without_a_primary_key_are_named_in_a_warning_and_the_rest_syncs()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE keyed (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE loose (v TEXT);
            INSERT INTO keyed VALUES (1, 'a'); INSERT INTO loose VALUES ('b');
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal(["keyed"], result.Tables.Select(t => t.Name));
        Assert.Contains(result.Warnings, w => w.Contains("'loose'", StringComparison.Ordinal) && w.Contains("no primary key", StringComparison.Ordinal));
        Assert.DoesNotContain(CliTests.Objects(path, "trigger"), t => t.Contains("loose", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_identity_sequence_keeps_up_even_after_a_crash_made_the_file_forget_it_created_the_table()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE seqd (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO seqd VALUES (1, 'a'), (2, 'b'), (3, 'c');");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        // What a kill between the first load's commit and its bookkeeping leaves: the file does not know it created the target.
        SyncFixture.Execute(path, "UPDATE _dbsync_tables SET target_created = 0; INSERT INTO seqd VALUES (40, 'pushed');");

        Assert.Equal(1, (await _fixture.SyncAsync(path)).Inserted);

        // An application inserting into PostgreSQL without naming the key gets the next free one, not a duplicate key.
        Assert.Equal(41, _fixture.PgScalar($"INSERT INTO \"{_fixture.Schema}\".seqd (v) VALUES ('app') RETURNING id"));
    }

    [Fact]
    public async Task A_table_named_with_the_reserved_prefix_is_named_in_a_warning_every_run()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE keyed (id INTEGER PRIMARY KEY); INSERT INTO keyed VALUES (1);
            CREATE TABLE _dbsync_mine (id INTEGER PRIMARY KEY); INSERT INTO _dbsync_mine VALUES (1);
            CREATE TABLE _dbsync_log_7x (id INTEGER PRIMARY KEY);
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal(["keyed"], result.Tables.Select(t => t.Name));
        Assert.Equal(2, result.Warnings.Count);
        Assert.Contains(result.Warnings, w => w.StartsWith("Table '_dbsync_mine' is not synced: names beginning with _dbsync_ are reserved", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.StartsWith("Table '_dbsync_log_7x' is not synced", StringComparison.Ordinal));
        // DbSync's own tables (its registry, change log, run log ...) are never named; the next run warns again.
        SyncFixture.Execute(path, "INSERT INTO keyed VALUES (2)");
        Assert.Equal(2, (await _fixture.SyncAsync(path)).Warnings.Count);
        Assert.Equal(2, (await new SyncEngine().PlanEnableAsync(new EnableRequest { Path = path })).Warnings.Count);
        Assert.Empty((await new SyncEngine().PlanEnableAsync(new EnableRequest { Path = path, Tables = ["keyed"] })).Warnings);
    }

    [Fact]
    public async Task Planning_an_enable_names_what_it_would_capture_and_skip_and_changes_nothing()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE keyed (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE kept (id INTEGER PRIMARY KEY);
            CREATE TABLE loose (v TEXT);
            CREATE VIRTUAL TABLE kfts USING fts5(body);
            """);
        var before = SyncFixture.Hash(path);

        var plan = await new SyncEngine().PlanEnableAsync(new EnableRequest { Path = path, Tables = ["k*", "loose"] });

        Assert.Equal(["kept", "keyed"], plan.Tables.Order(StringComparer.Ordinal));
        Assert.Null(plan.NodeId);
        Assert.Equal(2, plan.Warnings.Count);
        Assert.Contains(plan.Warnings, w => w.Contains("'loose' has no primary key", StringComparison.Ordinal));
        Assert.Contains(plan.Warnings, w => w.Contains("'kfts' is a virtual table", StringComparison.Ordinal));
        // A primary key would not make a virtual table capturable: no such advice for it (was given).
        Assert.DoesNotContain(plan.Warnings, w => w.Contains("'kfts'", StringComparison.Ordinal) && w.Contains("primary key", StringComparison.Ordinal));
        Assert.Contains(plan.Warnings, w => w.Contains("'loose'", StringComparison.Ordinal) && w.EndsWith("Give it a primary key to sync it.", StringComparison.Ordinal));
        Assert.Equal(before, SyncFixture.Hash(path));
        await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().PlanEnableAsync(new EnableRequest { Path = path, Tables = ["nothing*"] }));

        // Once enabled, the plan is what enable does again, and names the file's node id; a dropped table is named too.
        var enabled = await new SyncEngine().EnableAsync(new EnableRequest { Path = path });
        SyncFixture.Execute(path, "DROP TABLE kept");
        var again = await new SyncEngine().PlanEnableAsync(new EnableRequest { Path = path });
        Assert.Equal(enabled.NodeId, again.NodeId);
        Assert.Equal(["keyed"], again.Tables);
        Assert.Contains(again.Warnings, w => w.Contains("'kept' was captured but no longer exists", StringComparison.Ordinal));
        var done = await new SyncEngine().EnableAsync(new EnableRequest { Path = path });
        Assert.Equal(again.Tables, done.Tables);
        Assert.Equal(again.Warnings, done.Warnings);
    }

    [Fact]
    public async Task Capture_records_writes_of_any_connection_and_a_key_change_is_delete_plus_insert()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE item (code TEXT NOT NULL, part INTEGER NOT NULL, qty INTEGER, PRIMARY KEY (code, part)); INSERT INTO item VALUES ('a', 1, 1), ('b', 1, 1);");
        await _fixture.SyncAsync(path);

        // Another program, with its own connection and no knowledge of DbSync.
        SyncFixture.Execute(path, "UPDATE item SET part = 2 WHERE code = 'a'; UPDATE item SET qty = 5 WHERE code = 'b'; INSERT INTO item VALUES ('c', 3, NULL);");
        using (var sqlite = SyncFixture.OpenSqlite(path))
        using (var command = sqlite.CreateCommand())
        {
            command.CommandText = "SELECT op, k1, k2 FROM _dbsync_log_1 ORDER BY seq";
            using var reader = command.ExecuteReader();
            var log = new List<string>();
            while (reader.Read())
            {
                log.Add($"{reader.GetInt64(0)}:{reader.GetString(1)}:{reader.GetInt64(2)}");
            }

            Assert.Equal(["3:a:1", "1:a:2", "2:b:1", "1:c:3"], log);
        }

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((2L, 1L, 1L), (result.Inserted, result.Updated, result.Deleted));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Rows_that_replace_removes_through_a_unique_index_are_deleted_in_postgresql()
    {
        // A UNIQUE constraint, a unique index compared without case, and a two-column UNIQUE constraint.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE, code TEXT, a INTEGER, b TEXT, n INTEGER, UNIQUE (a, b));
            CREATE UNIQUE INDEX u_code ON u (code COLLATE NOCASE);
            INSERT INTO u VALUES (1, 'a@x', 'K1', 1, 'p', 0), (2, 'b@x', 'K2', 1, 'q', 0), (3, 'c@x', 'K3', 2, 'p', 0),
                (4, 'd@x', 'K4', 2, 'q', 0), (5, 'e@x', 'K5', 3, 'p', 0), (6, 'f@x', 'K6', 3, 'q', 0);
            """);
        await _fixture.SyncAsync(path);

        // The program writing has recursive_triggers off (SQLite's default): REPLACE fires no delete trigger.
        SyncFixture.Execute(path, """
            INSERT OR REPLACE INTO u VALUES (1, 'a@x', 'K1', 1, 'p', 1);
            INSERT OR REPLACE INTO u VALUES (10, 'b@x', 'K10', 10, 'z', 1);
            REPLACE INTO u VALUES (11, 'k@x', 'k3', 11, 'z', 1);
            UPDATE OR REPLACE u SET b = 'q' WHERE id = 5;
            INSERT OR IGNORE INTO u VALUES (12, 'd@x', 'K12', 12, 'z', 1);
            INSERT INTO u VALUES (13, 'g@x', 'k4', 13, 'z', 1) ON CONFLICT DO NOTHING;
            INSERT INTO u VALUES (14, 'a@x', 'K14', 14, 'z', 1) ON CONFLICT (email) DO UPDATE SET n = 3;
            """);
        using (var sqlite = SyncFixture.OpenSqlite(path))
        using (var ids = sqlite.CreateCommand())
        {
            ids.CommandText = "SELECT group_concat(id, ' ') FROM (SELECT id FROM u ORDER BY id)";
            Assert.Equal("1 4 5 10 11", ids.ExecuteScalar());
        }

        var result = await _fixture.SyncAsync(path);

        // Removed: 2 (email), 3 (code, in another case), 6 (a, b). Row 4, which two ignored inserts met, is unchanged:
        // nothing is written for it.
        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal((2L, 2L, 3L), (result.Inserted, result.Updated, result.Deleted));
        Assert.Equal(0, result.Conflicts);
        Assert.Equal("1 4 5 10 11", _fixture.PgText($"SELECT string_agg(id::text, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".u"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, await PendingAsync(path));

        // With recursive_triggers on, the delete trigger fires too: the row is deleted once.
        using (var sqlite = SyncFixture.OpenSqlite(path))
        {
            SyncFixture.Execute(sqlite, "PRAGMA recursive_triggers = ON; INSERT OR REPLACE INTO u VALUES (20, 'a@x', 'K20', 20, 'z', 2)");
        }

        result = await _fixture.SyncAsync(path);
        Assert.Equal((1L, 0L, 1L), (result.Inserted, result.Updated, result.Deleted));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Rows_that_replace_removes_through_a_primary_key_compared_without_case_are_deleted_in_postgresql()
    {
        // A key declared COLLATE NOCASE or RTRIM is one key to SQLite for 'Abc' and 'ABC' ('a' and 'a  '), two rows to
        // PostgreSQL: REPLACE of the other spelling removed the stored row without a delete trigger, and PostgreSQL kept it
        // for good (schema exploration F2). A rowid table, a WITHOUT ROWID one, and a composite key.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE u (k TEXT PRIMARY KEY COLLATE NOCASE, v INTEGER);
            CREATE TABLE r (k TEXT COLLATE RTRIM, v INTEGER, PRIMARY KEY (k)) WITHOUT ROWID;
            CREATE TABLE m (k TEXT COLLATE NOCASE, n INTEGER, v INTEGER, PRIMARY KEY (k, n));
            INSERT INTO u VALUES ('Abc', 1), ('def', 2), ('ghi', 3);
            INSERT INTO r VALUES ('a', 1), ('b', 2);
            INSERT INTO m VALUES ('x', 1, 1), ('y', 1, 2);
            """);
        await _fixture.SyncAsync(path);

        SyncFixture.Execute(path, """
            INSERT OR REPLACE INTO u VALUES ('ABC', 10);
            UPDATE OR REPLACE u SET k = 'DEF' WHERE k = 'ghi';
            REPLACE INTO r VALUES ('a  ', 9);
            INSERT OR REPLACE INTO m VALUES ('X', 1, 7);
            INSERT OR IGNORE INTO m VALUES ('Y', 1, 8);
            """);
        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal(0, result.Conflicts);
        Assert.Equal("ABC DEF", _fixture.PgText($"SELECT string_agg(k, ' ' ORDER BY k) FROM \"{_fixture.Schema}\".u"));
        Assert.Equal("[a  ] [b]", _fixture.PgText($"SELECT string_agg('[' || k || ']', ' ' ORDER BY k) FROM \"{_fixture.Schema}\".r"));
        Assert.Equal("X:7 y:2", _fixture.PgText($"SELECT string_agg(k || ':' || v, ' ' ORDER BY k) FROM \"{_fixture.Schema}\".m"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, await PendingAsync(path));
    }

    [Fact]
    public async Task Rows_that_update_or_replace_removes_through_a_partial_unique_index_by_its_where_column_are_deleted_in_postgresql()
    {
        // Setting active = 1 puts row 2 into the index, and REPLACE removes row 1; the update trigger fired only for the
        // index's own column, so PostgreSQL kept row 1 for good (schema exploration F3).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT, "Active" INTEGER, note TEXT);
            CREATE UNIQUE INDEX t_email_active ON t (email) WHERE "Active" = 1 -- live accounts only
            ;
            INSERT INTO t VALUES (1, 'a@x', 1, ''), (2, 'a@x', 0, ''), (3, 'b@x', 1, ''), (4, 'b@x', 0, '');
            """);
        await _fixture.SyncAsync(path);

        SyncFixture.Execute(path, """
            UPDATE OR REPLACE t SET active = 1 WHERE id = 2;
            UPDATE t SET note = 'n' WHERE id = 4;
            INSERT OR REPLACE INTO t VALUES (5, 'b@x', 0, '');
            """);
        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 0), (result.Status, result.Conflicts));
        Assert.Equal((1L, 2L, 1L), (result.Inserted, result.Updated, result.Deleted));
        Assert.Equal("2 3 4 5", _fixture.PgText($"SELECT string_agg(id::text, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".t"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        // It fires for the index's columns and those its WHERE names, not for every update.
        Assert.Contains("BEFORE UPDATE OF \"email\", \"Active\" ON", TriggerText(path, "_dbsync_1_ru"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replace_capture_of_a_nocase_key_or_a_partial_index_reaches_a_file_captured_by_an_earlier_dbsync_keeping_its_pending_changes()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE u (k TEXT PRIMARY KEY COLLATE NOCASE, v INTEGER);
            CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT, active INTEGER);
            CREATE UNIQUE INDEX t_email_active ON t (email) WHERE active = 1;
            INSERT INTO u VALUES ('Abc', 1), ('def', 2);
            INSERT INTO t VALUES (1, 'a@x', 1), (2, 'a@x', 0);
            """);
        await _fixture.SyncAsync(path);
        // The triggers as the earlier DbSync made them: none for REPLACE on the key, and for the partial index a match
        // without its WHERE and an update trigger for its column only. Then changes are made that it captured.
        SyncFixture.Execute(path, """
            DROP TRIGGER IF EXISTS _dbsync_2_ri; DROP TRIGGER IF EXISTS _dbsync_2_ru; DROP TRIGGER _dbsync_1_ri; DROP TRIGGER _dbsync_1_ru;
            CREATE TRIGGER "_dbsync_1_ri" BEFORE INSERT ON "t" BEGIN INSERT INTO "_dbsync_log_1" (op, k1) SELECT 2, "id" FROM "t" WHERE ("email" = NEW."email" COLLATE "BINARY"); END;
            CREATE TRIGGER "_dbsync_1_ru" BEFORE UPDATE OF "email" ON "t" BEGIN INSERT INTO "_dbsync_log_1" (op, k1) SELECT 2, "id" FROM "t" WHERE (("email" = NEW."email" COLLATE "BINARY")) AND NOT ("id" IS OLD."id"); END;
            UPDATE u SET v = 5 WHERE k = 'def';
            INSERT INTO t VALUES (3, 'c@x', 1);
            """);
        Assert.Equal(2, await PendingAsync(path));
        Assert.All((await _engine.GetStatusAsync(new StatusRequest { Path = path, Detailed = true })).Tables,
            t => Assert.Contains("INSERT OR REPLACE", t.Reason, StringComparison.Ordinal));

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(["Push", "Push"], result.Tables.Select(t => t.Mode));
        Assert.Equal((1L, 1L), (result.Inserted, result.Updated));
        Assert.Equal(2, result.Warnings.Count);
        Assert.Contains(result.Warnings, w => w.StartsWith("Table 'u': from this run on", StringComparison.Ordinal) && w.Contains("PRIMARY KEY (k COLLATE NOCASE)", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.StartsWith("Table 't': from this run on", StringComparison.Ordinal) && w.Contains("UNIQUE (email) WHERE active = 1", StringComparison.Ordinal));
        TableComparer.AssertIdentical(path, _fixture.Schema);

        SyncFixture.Execute(path, "INSERT OR REPLACE INTO u VALUES ('ABC', 10); UPDATE OR REPLACE t SET active = 1 WHERE id = 2;");
        result = await _fixture.SyncAsync(path);
        Assert.Empty(result.Warnings);
        Assert.Equal(2L, result.Deleted);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_key_under_a_collation_only_the_application_registers_skips_that_table_by_name_and_the_others_sync()
    {
        // An application registers UNICASE and keys a table by it: reading that table's changes needs the collation, and
        // every sync failed as a whole with "no such collation sequence", naming no table, while test said the file
        // could not be opened (schema exploration F4).
        var path = Path.Combine(_fixture.Directory, "app.sqlite");
        void App(string sql)
        {
            using var app = SyncFixture.OpenSqlite(path, create: true);
            app.CreateCollation("UNICASE", (x, y) => string.Compare(x, y, StringComparison.OrdinalIgnoreCase));
            SyncFixture.Execute(app, sql);
        }

        App("""
            CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE k (name TEXT COLLATE UNICASE PRIMARY KEY, v INTEGER);
            CREATE TABLE w (id INTEGER PRIMARY KEY, label TEXT COLLATE UNICASE UNIQUE);
            INSERT INTO a VALUES (1, 'x'); INSERT INTO k VALUES ('Abc', 1); INSERT INTO w VALUES (1, 'one');
            """);
        var result = await _fixture.SyncAsync(path);
        App("UPDATE a SET v = 'y'; UPDATE k SET v = 2; UPDATE w SET label = 'uno'; INSERT INTO a VALUES (2, 'z');");
        result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
        var skipped = Assert.Single(result.Tables, t => t.Status == SyncStatus.Failed);
        Assert.Equal(("k", "DbSync.UnknownCollation"), (skipped.Name, skipped.ErrorId));
        Assert.StartsWith("Table 'k': its primary key column 'name' is declared COLLATE UNICASE, a collation that only the application's own connections register", skipped.Message, StringComparison.Ordinal);
        Assert.Equal("y z", _fixture.PgText($"SELECT string_agg(v, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".a"));
        Assert.Equal("uno", _fixture.PgText($"SELECT label FROM \"{_fixture.Schema}\".w"));

        var checks = await new SyncEngine().TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema });
        Assert.DoesNotContain(checks, c => c.Name == "Source.Open");
        var collations = Assert.Single(checks, c => c.Name == "Source.Collations");
        Assert.Equal((CheckStatus.Fail, "DbSync.UnknownCollation", "k"), (collations.Status, collations.ErrorId, collations.Target));
        Assert.Contains("'name' is declared COLLATE UNICASE", collations.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(checks, c => c.Name == "Target.Compatibility" && c.Status == CheckStatus.Fail);
        var integrity = Assert.Single(checks, c => c.Name == "Source.Integrity");
        Assert.Equal(CheckStatus.Pass, integrity.Status);
        Assert.EndsWith("Not checked: 'k', 'w', whose indexes use a collation only the application registers.", integrity.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tables_key_change_is_skipped_with_advice_that_works_when_followed()
    {
        // The advice was "Run 'dbsync disable' and sync again to start over": done so, the next sync failed as a whole on
        // the PostgreSQL table's old key, where before only this table was skipped (schema exploration F8).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE b (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, v TEXT);
            INSERT INTO a VALUES (1, 'x'); INSERT INTO b VALUES (1, 'c1', 'p'), (2, 'c2', 'q');
            """);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, """
            CREATE TABLE b_new (code TEXT PRIMARY KEY, id INTEGER, v TEXT);
            INSERT INTO b_new SELECT code, id, v FROM b; DROP TABLE b; ALTER TABLE b_new RENAME TO b;
            UPDATE b SET v = 'r' WHERE code = 'c2'; UPDATE a SET v = 'y';
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
        var skipped = Assert.Single(result.Tables, t => t.Status == SyncStatus.Failed);
        Assert.Equal(("b", ErrorIds.SchemaChanged), (skipped.Name, skipped.ErrorId));
        Assert.Contains($"first give \"{_fixture.Schema}\".\"b\" the primary key (code) there, or drop it so that DbSync creates it again; then run 'dbsync disable' and sync again.", skipped.Message, StringComparison.Ordinal);
        Assert.Equal("y", _fixture.PgText($"SELECT v FROM \"{_fixture.Schema}\".a"));

        // Followed: the key in PostgreSQL, disable with --force (only b's change is pending), sync.
        _fixture.PgExecute($"ALTER TABLE \"{_fixture.Schema}\".b DROP CONSTRAINT b_pkey, ADD PRIMARY KEY (code)");
        await _engine.DisableAsync(new DisableRequest { Path = path, Force = true });
        result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_column_retyped_in_sqlite_skips_that_table_with_the_fix_and_the_others_sync()
    {
        // A 12-step migration giving column a another type stopped every table of the file with a run-level
        // DbSync.SchemaMismatch that gave no fix, where a dropped column skips its table alone (schema exploration F5).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE c (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE t (id INTEGER PRIMARY KEY, a INT);
            INSERT INTO c VALUES (1, 'x'); INSERT INTO t VALUES (1, 1), (2, 2), (3, 3);
            """);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, """
            CREATE TABLE t_new (id INTEGER PRIMARY KEY, a TEXT);
            INSERT INTO t_new SELECT id, 'v' || a FROM t WHERE id <> 2; DROP TABLE t; ALTER TABLE t_new RENAME TO t;
            UPDATE c SET v = 'y';
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
        var skipped = Assert.Single(result.Tables, t => t.Status == SyncStatus.Failed);
        Assert.Equal(("t", ErrorIds.SchemaChanged), (skipped.Name, skipped.ErrorId));
        Assert.StartsWith("Table 't': column 'a' changed its type in SQLite since the last sync, from INT to TEXT (maps to text), but is bigint in PostgreSQL table", skipped.Message, StringComparison.Ordinal);
        Assert.Equal("y", _fixture.PgText($"SELECT v FROM \"{_fixture.Schema}\".c"));

        // The fix it gives, followed.
        var alter = System.Text.RegularExpressions.Regex.Match(skipped.Message!, @"\((ALTER TABLE [^;]*);\)").Groups[1].Value;
        _fixture.PgExecute(alter);
        result = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["t"], Resync = true });
        Assert.Equal(SyncStatus.Succeeded, result.Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    private static string TriggerText(string path, string name)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var read = sqlite.CreateCommand();
        read.CommandText = $"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = '{name}'";
        return (string)read.ExecuteScalar()!;
    }

    [Fact]
    public async Task A_unique_index_added_later_or_by_an_upgrade_gets_its_replace_capture_without_a_full_copy()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO u VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x');");
        await _fixture.SyncAsync(path);
        Assert.DoesNotContain(CliTests.Objects(path, "trigger"), t => t.EndsWith("_ri", StringComparison.Ordinal));

        // The application adds a unique index: the next run adds the triggers, warns that earlier removals were not
        // captured, and pushes only the pending change.
        SyncFixture.Execute(path, "CREATE UNIQUE INDEX u_email ON u (email); UPDATE u SET email = 'c2@x' WHERE id = 3;");
        var status = await _engine.GetStatusAsync(new StatusRequest { Path = path, Detailed = true });
        Assert.True(status.TriggersIntact);
        Assert.Contains("INSERT OR REPLACE", status.Tables.Single().Reason, StringComparison.Ordinal);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(("Push", 1L), (result.Tables.Single().Mode, result.Updated));
        Assert.Equal(
            "Table 'u': from this run on, the rows that INSERT OR REPLACE or UPDATE OR REPLACE remove because they conflict on UNIQUE (email) are captured; "
            + "a row removed that way before (the index is new, or the file was enabled by an earlier DbSync) stays in PostgreSQL until a --resync of this table.",
            Assert.Single(result.Warnings));
        Assert.Contains(CliTests.Objects(path, "trigger"), t => t.EndsWith("_ri", StringComparison.Ordinal));
        Assert.Null((await _engine.GetStatusAsync(new StatusRequest { Path = path, Detailed = true })).Tables.Single().Reason);

        SyncFixture.Execute(path, "INSERT OR REPLACE INTO u VALUES (4, 'a@x')");
        result = await _fixture.SyncAsync(path);
        Assert.Equal((1L, 1L), (result.Inserted, result.Deleted));
        TableComparer.AssertIdentical(path, _fixture.Schema);

        // A file enabled by a DbSync without these triggers: the same, once; no warning the run after.
        SyncFixture.Execute(path, "DROP TRIGGER _dbsync_1_ri; DROP TRIGGER _dbsync_1_ru;");
        result = await _fixture.SyncAsync(path);
        Assert.Equal("Push", result.Tables.Single().Mode);
        Assert.Contains("UNIQUE (email)", Assert.Single(result.Warnings), StringComparison.Ordinal);
        Assert.Empty((await _fixture.SyncAsync(path)).Warnings);

        // The index dropped: its triggers go, silently.
        SyncFixture.Execute(path, "DROP INDEX u_email;");
        result = await _fixture.SyncAsync(path);
        Assert.Empty(result.Warnings);
        Assert.DoesNotContain(CliTests.Objects(path, "trigger"), t => t.EndsWith("_ri", StringComparison.Ordinal) || t.EndsWith("_ru", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Disable_removes_every_capture_trigger_even_one_a_later_dbsync_added()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE); INSERT INTO u VALUES (1, 'a@x');");
        await _fixture.SyncAsync(path);
        Assert.Equal(["_dbsync_1_d", "_dbsync_1_i", "_dbsync_1_ri", "_dbsync_1_ru", "_dbsync_1_u"], CliTests.Objects(path, "trigger").Order(StringComparer.Ordinal));
        // A trigger of a newer DbSync, unknown to this one, writing to the change log it drops.
        SyncFixture.Execute(path, "CREATE TRIGGER _dbsync_1_x9 AFTER INSERT ON u BEGIN INSERT INTO _dbsync_log_1 (op, k1) VALUES (1, NEW.id); END;");

        await _engine.DisableAsync(new DisableRequest { Path = path });

        Assert.Empty(CliTests.Objects(path, "trigger"));
        // The application's writes work: no trigger is left pointing at the dropped log.
        SyncFixture.Execute(path, "INSERT OR REPLACE INTO u VALUES (2, 'a@x')");
    }

    [Fact]
    public async Task A_column_dropped_and_added_again_copies_the_table_again_in_full()
    {
        // SQLite cannot change a column's DEFAULT: a migration drops the column and adds it again, and SQLite refills
        // every row without firing a trigger. The columns looked the same, so PostgreSQL kept the old values for good.
        var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL); INSERT INTO item VALUES (1, 'a', 1.5), (2, 'b', 2.5);");
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "UPDATE item SET price = 3.5 WHERE id = 2");
        Assert.Equal("Push", (await _fixture.SyncAsync(path)).Tables.Single().Mode);

        SyncFixture.Execute(path, "ALTER TABLE item DROP COLUMN price; ALTER TABLE item ADD COLUMN price REAL DEFAULT 0;");
        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, "FullCopy"), (result.Status, result.Tables.Single().Mode));
        Assert.StartsWith("Table 'item' was redefined in SQLite since the last sync", Assert.Single(result.Warnings), StringComparison.Ordinal);
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal("0 0", _fixture.PgText($"SELECT string_agg(price::text, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".item"));
        var next = await _fixture.SyncAsync(path);
        Assert.Equal(("Push", 0), (next.Tables.Single().Mode, next.Warnings.Count));

        // A file last synced by a DbSync that recorded the columns alone: nothing to compare, no copy; from then on recorded.
        SyncFixture.Execute(path, "UPDATE _dbsync_tables SET column_signature = substr(column_signature, 1, instr(column_signature, char(10) || char(31) || 'h') - 1);");
        var old = await _fixture.SyncAsync(path);
        Assert.Equal(("Push", 0), (old.Tables.Single().Mode, old.Warnings.Count));
        SyncFixture.Execute(path, "ALTER TABLE item DROP COLUMN price; ALTER TABLE item ADD COLUMN price REAL DEFAULT 9;");
        Assert.Equal("FullCopy", (await _fixture.SyncAsync(path)).Tables.Single().Mode);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_column_added_in_sqlite_is_added_to_the_target_with_its_values()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y');");
        await _fixture.SyncAsync(path);

        // ALTER TABLE ... DEFAULT fills existing rows without firing any trigger: the table must be copied again.
        SyncFixture.Execute(path, "ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 7; INSERT INTO t VALUES (3, 'z', 9);");
        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal("FullCopy", result.Tables.Single().Mode);
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t WHERE b = 7"));

        SyncFixture.Execute(path, "UPDATE t SET b = 8 WHERE id = 1");
        Assert.Equal("Push", (await _fixture.SyncAsync(path)).Tables.Single().Mode);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Rows_deleted_while_a_table_waits_to_be_copied_again_are_deleted_in_postgresql_too()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE parent (id INTEGER PRIMARY KEY, a TEXT);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id), v TEXT);
            INSERT INTO parent VALUES (1, 'x'), (2, 'y'), (3, 'z');
            INSERT INTO child VALUES (10, 1, 'a'), (20, 2, 'b'), (30, 3, 'c');
            """);
        await _fixture.SyncAsync(path);

        // The added column makes both tables be copied whole; the copy brings the rows that exist, and the deleted
        // ones, known only to the change log, must not stay behind in PostgreSQL.
        SyncFixture.Execute(path, """
            ALTER TABLE parent ADD COLUMN b INTEGER; ALTER TABLE child ADD COLUMN w INTEGER;
            DELETE FROM child WHERE id = 20; DELETE FROM parent WHERE id = 2; UPDATE child SET v = 'c2' WHERE id = 30;
            """);
        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal(["FullCopy", "FullCopy"], result.Tables.Select(t => t.Mode));
        Assert.Equal(2, result.Deleted);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Rows_deleted_while_the_triggers_were_dropped_are_deleted_in_postgresql_when_this_node_wrote_them_last()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, 'z'), (4, 'w');");
        await _fixture.SyncAsync(path);
        // Another writer adds a row of its own in PostgreSQL and changes row 4; then a migration tool drops the
        // triggers, and rows change in SQLite with no log to say so.
        _fixture.PgExecute($"INSERT INTO \"{_fixture.Schema}\".t VALUES (100, 'theirs'); UPDATE \"{_fixture.Schema}\".t SET a = 'w2' WHERE id = 4");
        SyncFixture.Execute(path, """
            DROP TRIGGER _dbsync_1_i; DROP TRIGGER _dbsync_1_u; DROP TRIGGER _dbsync_1_d;
            DELETE FROM t WHERE id IN (2, 4); UPDATE t SET a = 'z2' WHERE id = 3; INSERT INTO t VALUES (5, 'v');
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, "FullCopy"), (result.Status, result.Tables.Single().Mode));
        Assert.Contains(result.Warnings, w => w.Contains("missing or altered", StringComparison.Ordinal));
        // Row 2 was this node's: gone. Row 4 was last written by the other writer, row 100 is its own: both stay.
        Assert.Equal(1, result.Deleted);
        Assert.Equal("1:x 3:z2 4:w2 5:v 100:theirs",
            _fixture.PgText($"SELECT string_agg(id || ':' || a, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".t"));

        // Captured again from now on.
        SyncFixture.Execute(path, "DELETE FROM t WHERE id = 5");
        Assert.Equal(1, (await _fixture.SyncAsync(path)).Deleted);
    }

    [Fact]
    public async Task A_row_deleted_while_the_triggers_were_dropped_that_postgresql_still_needs_is_left_with_a_warning()
    {
        // With foreign keys off (SQLite's default), the child still points at the deleted parent.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE parent (id INTEGER PRIMARY KEY, a TEXT);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));
            INSERT INTO parent VALUES (1, 'x'), (2, 'y'); INSERT INTO child VALUES (10, 2);
            """);
        await _fixture.SyncAsync(path);
        long id;
        using (var sqlite = SyncFixture.OpenSqlite(path))
        using (var command = sqlite.CreateCommand())
        {
            command.CommandText = "SELECT id FROM _dbsync_tables WHERE name = 'parent'";
            id = (long)command.ExecuteScalar()!;
        }

        SyncFixture.Execute(path, $"PRAGMA foreign_keys = OFF; DROP TRIGGER _dbsync_{id}_d; DELETE FROM parent WHERE id = 2; UPDATE parent SET a = 'x2' WHERE id = 1;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Contains(result.Warnings, w => w.Contains("Table parent: rows gone from SQLite were left in PostgreSQL", StringComparison.Ordinal));
        Assert.Equal("1:x2 2:y", _fixture.PgText($"SELECT string_agg(id || ':' || a, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".parent"));
        Assert.Equal(0, result.Deleted);
    }

    [Fact]
    public async Task A_first_load_committed_in_postgresql_but_not_recorded_in_the_file_is_completed_with_the_deletes_since()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, 'z');");
        await _fixture.SyncAsync(path);
        // The state a kill between PostgreSQL's commit and the file's bookkeeping leaves after a first load (the
        // kill test reaches it at random): the rows are in PostgreSQL, the file does not know they were loaded.
        SyncFixture.Execute(path, "UPDATE _dbsync_tables SET loaded = 0; DELETE FROM t WHERE id = 2; UPDATE t SET a = 'z2' WHERE id = 3;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal(("FullCopy", 1L, 1L), (result.Tables.Single().Mode, result.Deleted, result.Updated));
        Assert.Equal(0, result.Tables.Single().Conflicts);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_table_created_in_sqlite_later_is_captured_created_and_loaded_on_the_next_run()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE first (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO first VALUES (1, 'x');");
        await _fixture.SyncAsync(path);

        SyncFixture.Execute(path, "CREATE TABLE later (id INTEGER PRIMARY KEY, first_id INTEGER REFERENCES first (id), v REAL); INSERT INTO later VALUES (1, 1, 0.5);");
        var result = await _fixture.SyncAsync(path);

        Assert.Equal(["first", "later"], result.Tables.Select(t => t.Name));
        Assert.Equal(("Push", "InitialLoad"), (result.Tables[0].Mode, result.Tables[1].Mode));
        SyncFixture.Execute(path, "UPDATE later SET v = 1.5");
        Assert.Equal(1, (await _fixture.SyncAsync(path)).Updated);
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = '{_fixture.Schema}' AND contype = 'f'"));
    }

    [Fact]
    public async Task A_captured_table_dropped_from_sqlite_is_named_in_a_warning_and_its_postgresql_table_is_left_alone()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE keep (id INTEGER PRIMARY KEY); CREATE TABLE gone (id INTEGER PRIMARY KEY); INSERT INTO gone VALUES (1), (2);");
        Assert.Empty((await _fixture.SyncAsync(path)).Warnings);
        SyncFixture.Execute(path, "DELETE FROM gone WHERE id = 1; DROP TABLE gone; INSERT INTO keep VALUES (1);");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 1L, 0L), (result.Status, result.Inserted, result.Deleted));
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("Table 'gone' was captured but no longer exists in SQLite", warning, StringComparison.Ordinal);
        Assert.Contains("its 1 pending change(s) stay unsent", warning, StringComparison.Ordinal);
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".gone"));

        // Status lists it with the change no run can send, apart from the rows waiting.
        var status = await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path, Detailed = true });
        Assert.Equal(0, status.PendingChanges);
        var gone = status.Tables.Single(t => t.Name == "gone");
        Assert.Equal(1, gone.PendingChanges);
        Assert.StartsWith("no longer exists in SQLite (dropped or renamed): its 1 logged change(s) are never sent", gone.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_renamed_table_loses_the_capture_triggers_of_its_old_name_so_its_writes_are_logged_once()
    {
        // SQLite moves triggers with a renamed table: a's stayed on b next to b's own, logged every write to b into a's
        // log as well, which no run empties, and every run warned of ever more pending changes of 'a' (capture
        // exploration, finding 7).
        var path = _fixture.CreateDatabase("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); CREATE UNIQUE INDEX a_v ON a (v); INSERT INTO a VALUES (1, 'v1'), (2, 'v2');");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, "UPDATE a SET v = 'unsent' WHERE id = 2; ALTER TABLE a RENAME TO b;");
        // Status names the moved triggers before a sync removes them (it said only "not selected for sync yet").
        var before = await _engine.GetStatusAsync(new StatusRequest { Path = path, Detailed = true });
        Assert.Contains("it carries the capture triggers of 'a' (moved here by a rename)", before.Tables.Single(t => t.Name == "b").Reason, StringComparison.Ordinal);

        var renamed = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, renamed.Status);
        Assert.Equal([("b", "InitialLoad")], renamed.Tables.Select(t => (t.Name, t.Mode)));
        // The first run after the rename names the new name (it did not): a's triggers, which SQLite moved with the table, say it.
        Assert.Contains("Table 'a' was captured but no longer exists in SQLite (it was renamed to 'b'): it is not synced, and its 1 pending change(s) stay unsent", Assert.Single(renamed.Warnings), StringComparison.Ordinal);
        Assert.Equal(2L, TableComparer.Count(path, "_dbsync_tables"));
        string Id(string table) => Scalar(path, $"SELECT id FROM _dbsync_tables WHERE name = '{table}'");
        Assert.Equal(new[] { "i", "ri", "ru", "u", "d" }.Select(s => $"_dbsync_{Id("b")}_{s}").Order(StringComparer.Ordinal),
            Names(path, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'b'"));

        for (var i = 1; i <= 20; i++)
        {
            SyncFixture.Execute(path, $"UPDATE b SET v = 'w{i}' WHERE id = 1");
        }

        var later = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 1L), (later.Status, later.Updated));
        Assert.Contains("its 1 pending change(s) stay unsent", Assert.Single(later.Warnings), StringComparison.Ordinal);
        Assert.Equal("1", Scalar(path, $"SELECT count(*) FROM _dbsync_log_{Id("a")}"));
        Assert.Equal("0", Scalar(path, $"SELECT count(*) FROM _dbsync_log_{Id("b")}"));
        TableComparer.AssertIdentical(path, _fixture.Schema, ["b"]);
        // a's logged change stays, for status to show, as for any table dropped or renamed: nothing is lost silently.
        var status = await _engine.GetStatusAsync(new StatusRequest { Path = path, Detailed = true });
        Assert.Equal((0L, 1L), (status.PendingChanges, status.Tables.Single(t => t.Name == "a").PendingChanges));
        Assert.Null(status.Tables.Single(t => t.Name == "b").Reason);
    }

    [Fact]
    public async Task A_captured_table_that_vanished_is_named_by_status_and_disable_table_removes_its_capture_and_its_warning_alone()
    {
        // An ORM's transient rebuild table captured mid-migration, or a renamed table's old name, warned on every run for
        // ever; status said pending 0; and the only remedy was disable of the whole file (capture exploration 2, F4).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE keep (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO keep VALUES (1, 'k');
            CREATE TABLE new_item (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO new_item VALUES (1, 'v1');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var node = Scalar(path, "SELECT value FROM _dbsync_meta WHERE key = 'node_id'");
        SyncFixture.Execute(path, "UPDATE new_item SET v = 'unsent' WHERE id = 1; ALTER TABLE new_item RENAME TO item; UPDATE keep SET v = 'pending' WHERE id = 1;");
        var warned = await _fixture.SyncAsync(path);
        Assert.Contains("'dbsync disable --table \"new_item\" --force' removes its capture", Assert.Single(warned.Warnings), StringComparison.Ordinal);
        SyncFixture.Execute(path, "UPDATE keep SET v = 'still pending' WHERE id = 1");

        var (code, stdout, _) = await CliTests.RunCliAsync("status", "--path", path);
        Assert.Equal(0, code);
        Assert.Contains("captured table 'new_item' no longer exists in SQLite: 1 logged change(s) never sent", stdout, StringComparison.Ordinal);
        Assert.Equal([new VanishedTable("new_item", 1)], (await _engine.GetStatusAsync(new StatusRequest { Path = path })).VanishedTables);
        // Its pending change needs --force; keep's pending change is not discarded by it.
        Assert.Equal("DbSync.PendingChanges", (await Assert.ThrowsAsync<DbSyncException>(() => _engine.DisableAsync(new DisableRequest { Path = path, Tables = ["new_item"] }))).ErrorId);
        (code, stdout, _) = await CliTests.RunCliAsync("disable", "--path", path, "--table", "new_item", "--force", "--json");
        Assert.Equal(0, code);
        Assert.Contains("\"tables\":[\"new_item\"],\"discardedChanges\":1", stdout, StringComparison.Ordinal);

        var after = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 1L), (after.Status, after.Updated));
        Assert.Empty(after.Warnings);
        Assert.Equal(node, Scalar(path, "SELECT value FROM _dbsync_meta WHERE key = 'node_id'"));
        Assert.Empty((await _engine.GetStatusAsync(new StatusRequest { Path = path })).VanishedTables);
        TableComparer.AssertIdentical(path, _fixture.Schema, ["keep", "item"]);
        Assert.Equal("DbSync.TableNotFound", (await Assert.ThrowsAsync<DbSyncException>(() => _engine.DisableAsync(new DisableRequest { Path = path, Tables = ["nothing*"] }))).ErrorId);
    }

    private static string Scalar(string path, string sql)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var command = sqlite.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
    }

    private static List<string> Names(string path, string sql)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var command = sqlite.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return names.Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task A_table_rebuilt_the_way_sqlite_recommends_with_a_new_column_is_copied_again_with_that_column()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE rebuilt (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO rebuilt VALUES (1, 'x'), (2, 'y'), (3, 'z');
            CREATE TABLE other (id INTEGER PRIMARY KEY); INSERT INTO other VALUES (1);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        // Create the new shape, copy, drop the old table (and with it the capture triggers), rename.
        SyncFixture.Execute(path, """
            BEGIN;
            CREATE TABLE rebuilt_new (id INTEGER PRIMARY KEY, a TEXT, extra TEXT DEFAULT 'd');
            INSERT INTO rebuilt_new (id, a, extra) SELECT id, a, 'e' || id FROM rebuilt;
            DROP TABLE rebuilt;
            ALTER TABLE rebuilt_new RENAME TO rebuilt;
            DELETE FROM rebuilt WHERE id = 2;
            COMMIT;
            INSERT INTO other VALUES (2);
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Contains(result.Warnings, w => w.Contains("'rebuilt' were missing or altered", StringComparison.Ordinal));
        Assert.Equal(1, result.Tables.Single(t => t.Name == "other").Inserted);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_dropped_column_stops_that_table_and_the_run_is_partial()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE keep (id INTEGER PRIMARY KEY, a TEXT);
            CREATE TABLE shrink (id INTEGER PRIMARY KEY, a TEXT, b TEXT);
            INSERT INTO keep VALUES (1, 'x'); INSERT INTO shrink VALUES (1, 'x', 'y');
            """);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "ALTER TABLE shrink DROP COLUMN b; UPDATE shrink SET a = 'changed'; INSERT INTO keep VALUES (2, 'y');");

        var (code, stdout, _) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--json");

        Assert.Equal(3, code);
        Assert.Contains("\"status\":\"PartiallySucceeded\"", stdout, StringComparison.Ordinal);
        Assert.Contains("DbSync.SchemaChanged", stdout, StringComparison.Ordinal);
        Assert.Contains("'b'", stdout, StringComparison.Ordinal);
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".keep"));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".shrink WHERE a = 'changed'"));
        // The skipped table's changes stay pending for when the target is fixed.
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var command = sqlite.CreateCommand();
        command.CommandText = "SELECT count(*) FROM _dbsync_log_2";
        Assert.Equal(1L, command.ExecuteScalar());

        // Following the message: a resync while the target still has the column says so; once it is dropped there,
        // the resync copies the table and the pushes go on. (The resync could never clear the error before.)
        var resync = new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["shrink"], Resync = true };
        var early = await new SyncEngine().SyncAsync(resync);
        Assert.Equal((SyncStatus.PartiallySucceeded, ErrorIds.SchemaChanged), (early.Status, early.Tables.Single().ErrorId));
        Assert.Contains("still has 'b'", early.Tables.Single().Message, StringComparison.Ordinal);
        _fixture.PgExecute($"ALTER TABLE \"{_fixture.Schema}\".shrink DROP COLUMN b");
        var fixedUp = await new SyncEngine().SyncAsync(resync);
        Assert.Equal((SyncStatus.Succeeded, "Resync", 1L), (fixedUp.Status, fixedUp.Tables.Single().Mode, fixedUp.Updated));
        SyncFixture.Execute(path, "UPDATE shrink SET a = 'pushed'");
        var pushed = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 1L), (pushed.Status, pushed.Updated));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_renamed_key_column_is_a_renamed_column_whose_advice_works_not_a_rekey_skipped_for_good()
    {
        // ALTER TABLE t RENAME COLUMN id TO item_id was taken for a re-key: skipped with "its change log no longer names
        // its rows", --resync did not help, and the only way on was disable --force of the whole file (capture exploration 2, F6).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE keep (id INTEGER PRIMARY KEY, a TEXT);
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
            INSERT INTO keep VALUES (1, 'x'); INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');
            """);
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "UPDATE t SET name = 'changed' WHERE id = 1; DELETE FROM t WHERE id = 2;");
        SyncFixture.Execute(path, "ALTER TABLE t RENAME COLUMN id TO item_id; INSERT INTO t VALUES (4, 'four'); INSERT INTO keep VALUES (2, 'y');");

        var skipped = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.PartiallySucceeded, skipped.Status);
        var table = skipped.Tables.Single(t => t.Name == "t");
        Assert.Equal(ErrorIds.SchemaChanged, table.ErrorId);
        Assert.Contains("'id' were dropped or renamed", table.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("disable", table.Message, StringComparison.Ordinal);
        Assert.Contains("dropped or renamed in SQLite", (await _engine.GetStatusAsync(new StatusRequest { Path = path, Detailed = true })).Tables.Single(t => t.Name == "t").Reason, StringComparison.Ordinal);
        // Following the message: rename the PostgreSQL column, then --resync the table.
        _fixture.PgExecute($"ALTER TABLE \"{_fixture.Schema}\".t RENAME COLUMN id TO item_id");
        var resync = await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["t"], Resync = true });
        Assert.Equal((SyncStatus.Succeeded, "Resync"), (resync.Status, resync.Tables.Single().Mode));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, await PendingAsync(path));
        // Later changes are pushed as usual, by the key's new name.
        SyncFixture.Execute(path, "UPDATE t SET name = 'pushed' WHERE item_id = 3; DELETE FROM t WHERE item_id = 4;");
        var pushed = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (pushed.Status, pushed.Updated, pushed.Deleted));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    public static TheoryData<string, string, string> Mismatches => new()
    {
        { "CREATE TABLE {0}.t (id bigint PRIMARY KEY, a integer)", "DbSync.SchemaMismatch", "column 'a' is TEXT in SQLite (maps to text) but integer" },
        { "CREATE TABLE {0}.t (id bigint PRIMARY KEY)", "DbSync.SchemaMismatch", "column 'a' (TEXT, maps to text) is missing" },
        { "CREATE TABLE {0}.t (id bigint, a text, PRIMARY KEY (a))", "DbSync.SchemaMismatch", "primary key is (id)" },
        { "CREATE TABLE {0}.t (id bigint PRIMARY KEY, a text, extra text NOT NULL)", "DbSync.SchemaMismatch", "'extra' (text)" },
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task A_target_table_that_does_not_match_stops_the_run_before_any_data_is_written(string ddl, string errorId, string fragment)
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE a_first (id INTEGER PRIMARY KEY); INSERT INTO a_first VALUES (1);
            CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, 'x');
            """);
        _fixture.PgExecute($"CREATE SCHEMA \"{_fixture.Schema}\"; " + string.Format(System.Globalization.CultureInfo.InvariantCulture, ddl, $"\"{_fixture.Schema}\""));

        var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => _fixture.SyncAsync(path));

        Assert.Equal(errorId, error.ErrorId);
        Assert.Contains("Table 't'", error.Message, StringComparison.Ordinal);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{_fixture.Schema}' AND relname = 'a_first'"));
    }

    [Fact]
    public async Task Names_longer_than_63_bytes_are_refused_before_anything_is_written()
    {
        var longName = new string('é', 32); // 64 bytes of UTF-8
        var path = _fixture.CreateDatabase($"CREATE TABLE ok (id INTEGER PRIMARY KEY); CREATE TABLE \"{longName}\" (id INTEGER PRIMARY KEY);");

        var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => _fixture.SyncAsync(path));

        Assert.Equal("DbSync.NameTooLong", error.ErrorId);
        Assert.Contains(longName, error.Message, StringComparison.Ordinal);
        Assert.False(_fixture.SchemaExists());
    }

    [Fact]
    public async Task Hostile_names_are_quoted_everywhere()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE "select; DROP TABLE x; --" ("key""quoted" TEXT PRIMARY KEY, "a b" INTEGER, "Ünïcødé 🎉" TEXT, "[br]" BLOB);
            INSERT INTO "select; DROP TABLE x; --" VALUES ('k"1', 1, 'ü', x'00ff'), ('k''2', 2, NULL, x'');
            """);

        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "UPDATE \"select; DROP TABLE x; --\" SET \"a b\" = 3 WHERE \"key\"\"quoted\" = 'k\"1'; DELETE FROM \"select; DROP TABLE x; --\" WHERE \"a b\" = 2;");
        var result = await _fixture.SyncAsync(path);

        Assert.Equal((0L, 1L, 1L), (result.Inserted, result.Updated, result.Deleted));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_value_the_target_type_would_alter_is_held_back_naming_table_column_and_row_while_the_rest_commits()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE good (id INTEGER PRIMARY KEY); INSERT INTO good VALUES (1);
            CREATE TABLE price (id INTEGER PRIMARY KEY, amount NUMERIC(6,2)); INSERT INTO price VALUES (1, 1.5), (2, 0.125);
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (result.Status, result.Quarantined));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Contains("'price'", held.Reason, StringComparison.Ordinal);
        Assert.Contains("'amount'", held.Reason, StringComparison.Ordinal);
        Assert.Equal("(id=2)", held.Key);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM {_fixture.Schema}.good"));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM {_fixture.Schema}.price"));
        // Fixing the value heals it on the next run.
        SyncFixture.Execute(path, "UPDATE price SET amount = 0.13 WHERE id = 2");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Timestamps_with_a_zone_are_stored_as_their_utc_instant_and_other_forms_follow_the_rules()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE ev (id INTEGER PRIMARY KEY, at DATETIME, day DATE, flag BOOLEAN, n NUMERIC, raw);
            INSERT INTO ev VALUES
              (1, '2024-03-01 10:00:00+02:00', '2024-03-01', 1, 1.5, 'text'),
              (2, '2024-03-01T08:00:00.123456Z', '2024-03-01 00:00:00', 0, 10, 42),
              (3, 1709280000, NULL, 'true', '12.50', 2.5),
              (4, 2460370.5, NULL, NULL, NULL, NULL);
            """);

        await _fixture.SyncAsync(path);

        string Text(string sql)
        {
            using var connection = TestServer.Open();
            using var command = new Npgsql.NpgsqlCommand(sql, connection);
            return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
        }

        var table = $"\"{_fixture.Schema}\".ev";
        Assert.Equal("2024-03-01 08:00:00", Text($"SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS') FROM {table} WHERE id = 1"));
        Assert.Equal("2024-03-01 08:00:00.123456", Text($"SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS.US') FROM {table} WHERE id = 2"));
        Assert.Equal("2024-03-01 08:00:00", Text($"SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS') FROM {table} WHERE id = 3"));
        Assert.Equal("2024-03-01 00:00:00", Text($"SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS') FROM {table} WHERE id = 4"));
        Assert.Equal("2024-03-01", Text($"SELECT day::text FROM {table} WHERE id = 2"));
        Assert.Equal("True", Text($"SELECT flag FROM {table} WHERE id = 3"));
        // NUMERIC affinity made SQLite store the text '12.50' as the real 12.5.
        Assert.Equal("12.5", Text($"SELECT n::text FROM {table} WHERE id = 3"));
        Assert.Equal("42|2.5", Text($"SELECT string_agg(raw, '|' ORDER BY id) FROM {table} WHERE id IN (2, 3)"));
    }
}
