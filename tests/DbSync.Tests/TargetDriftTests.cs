using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// A target table a DBA gave a trigger, a rule or row-level security after DbSync made it: PostgreSQL may then store a
/// row otherwise than DbSync sent it, or not at all, without an error. Such a row is never marked synced: it is held
/// back with the reason, stays pending, and the counts say what PostgreSQL really stored.
/// </summary>
public sealed class TargetDriftTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly SyncEngine _engine = new();

    public void Dispose() => _fixture.Dispose();

    private string Table => $"\"{_fixture.Schema}\".t";

    private string Rows() => _fixture.CreateDatabase("""
        CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) INSERT INTO t SELECT i, 'n' || i, i * 10 FROM n;
        """);

    private async Task<string> SyncedRowsAsync()
    {
        var path = Rows();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        return path;
    }

    private void Trigger(string name, string timing, string body) => _fixture.PgExecute($"""
        CREATE FUNCTION "{_fixture.Schema}".{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$;
        CREATE TRIGGER {name} {timing} ON {Table} FOR EACH ROW EXECUTE FUNCTION "{_fixture.Schema}".{name}();
        """);

    private async Task<IReadOnlyList<QuarantinedRow>> HeldAsync(string path) => await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path });

    private async Task<long> PendingAsync(string path) => (await _engine.GetStatusAsync(new StatusRequest { Path = path })).PendingChanges;

    [Fact]
    public async Task An_update_and_a_delete_a_before_trigger_skips_are_held_back_not_marked_synced_and_retry_heals_them()
    {
        var path = await SyncedRowsAsync();
        Trigger("skip_big", "BEFORE UPDATE", "IF new.qty >= 1000 THEN RETURN NULL; END IF; RETURN new;");
        Trigger("keep_5", "BEFORE DELETE", "IF old.id = 5 THEN RETURN NULL; END IF; RETURN old;");
        SyncFixture.Execute(path, "UPDATE t SET qty = 9999 WHERE id = 3; UPDATE t SET name = 'four' WHERE id = 4; DELETE FROM t WHERE id IN (5, 6);");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 1L, 1L), (result.Status, result.Quarantined, result.Updated, result.Deleted));
        var held = await HeldAsync(path);
        Assert.Equal(["(id=3)", "(id=5)"], held.Select(h => h.Key).Order(StringComparer.Ordinal));
        Assert.All(held, h => Assert.StartsWith("PostgreSQL did not store the row as sent: a trigger, rule or row-level security policy on", h.Reason, StringComparison.Ordinal));
        Assert.Contains("skipped the delete", held.Single(h => h.Key == "(id=5)").Reason, StringComparison.Ordinal);
        Assert.Equal(2, await PendingAsync(path));
        Assert.Equal("four", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 4"));

        _fixture.PgExecute($"DROP TRIGGER skip_big ON {Table}; DROP TRIGGER keep_5 ON {Table}");
        var retried = await _engine.RetryQuarantineAsync(_fixture.Request(path));
        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (retried!.Status, retried.Updated, retried.Deleted));
        Assert.Equal(0, await PendingAsync(path));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task An_insert_a_before_trigger_skips_is_held_back_with_the_true_reason_not_reported_as_another_writer()
    {
        var path = await SyncedRowsAsync();
        Trigger("skip_big", "BEFORE INSERT OR UPDATE", "IF new.qty >= 1000 THEN RETURN NULL; END IF; RETURN new;");
        SyncFixture.Execute(path, "INSERT INTO t VALUES (11, 'n11', 5000), (12, 'n12', 120); UPDATE t SET name = 'two' WHERE id = 2;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L, 1L), (result.Status, result.Quarantined, result.Inserted, result.Updated));
        var held = Assert.Single(await HeldAsync(path));
        Assert.Equal("(id=11)", held.Key);
        Assert.Contains("skipped it; PostgreSQL has no row with this key", held.Reason, StringComparison.Ordinal);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id = 11"));
        Assert.Equal(1, await PendingAsync(path));
    }

    [Fact]
    public async Task A_row_a_trigger_rewrites_is_held_back_and_not_counted_as_written()
    {
        var path = await SyncedRowsAsync();
        Trigger("shout", "BEFORE INSERT OR UPDATE", "new.name := upper(new.name); RETURN new;");
        SyncFixture.Execute(path, "UPDATE t SET name = 'three' WHERE id = 3; INSERT INTO t VALUES (11, 'new11', 1);");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 0L, 0L), (result.Status, result.Quarantined, result.Inserted, result.Updated));
        Assert.All(await HeldAsync(path), h => Assert.Contains("changed it; PostgreSQL holds other values than the file", h.Reason, StringComparison.Ordinal));
        Assert.Equal(2, await PendingAsync(path));
    }

    [Fact]
    public async Task A_change_of_case_only_reaches_a_column_with_a_case_insensitive_collation()
    {
        // An administrator's nondeterministic ICU collation calls 'n1' and 'N1' equal: the push took the row for one that
        // already held the file's version, skipped it, counted nothing and marked it synced (target exploration, F21).
        var path = Rows();
        var collation = $"\"{_fixture.Schema}\".ci";
        _fixture.PgExecute($"""
            CREATE SCHEMA "{_fixture.Schema}";
            CREATE COLLATION {collation} (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE TABLE {Table} (id bigint PRIMARY KEY, name text COLLATE {collation} NOT NULL, qty bigint);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE name = 'N1'"));
        SyncFixture.Execute(path, "UPDATE t SET name = 'N1' WHERE id = 1; UPDATE t SET name = 'N2', qty = 21 WHERE id = 2;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 2L), (result.Status, result.Updated));
        Assert.Equal("N1|N2", _fixture.PgText($"SELECT string_agg(name, '|' ORDER BY id) FROM {Table} WHERE id <= 2"));
        Assert.Equal(0, await PendingAsync(path));

        // Another writer's change of case only is a change too: a row the file then writes with its own spelling is
        // a conflict, not a row that already holds the file's version (adopted, the two sides differing for good), and
        // under SourceWins the file's spelling goes over it.
        _fixture.PgExecute($"UPDATE {Table} SET name = 'N3' WHERE id = 3");
        SyncFixture.Execute(path, "UPDATE t SET name = 'n3' WHERE id = 3");
        var conflict = await _fixture.SyncAsync(path);
        Assert.Equal((1L, 1L), (conflict.Conflicts, conflict.Updated));
        Assert.Equal("n3", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 3"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_target_key_under_a_case_insensitive_collation_is_a_schema_mismatch_before_anything_is_written()
    {
        // The upsert matched the file's new row 'ABC' with PostgreSQL's other row 'abc' under such a collation, overwrote
        // it and counted an update (target exploration, F26).
        var path = _fixture.CreateDatabase("CREATE TABLE u (name TEXT PRIMARY KEY, v INTEGER); INSERT INTO u VALUES ('abc', 1), ('ABC', 2);");
        var collation = $"\"{_fixture.Schema}\".ci";
        _fixture.PgExecute($"""
            CREATE SCHEMA "{_fixture.Schema}";
            CREATE COLLATION {collation} (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE TABLE "{_fixture.Schema}".u (name text COLLATE {collation} PRIMARY KEY, v bigint);
            """);

        var refused = await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(path));
        var check = Assert.Single(await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema }),
            c => c.Name == "Target.Compatibility" && c.Status == CheckStatus.Fail);

        Assert.Equal(ErrorIds.SchemaMismatch, refused.ErrorId);
        Assert.StartsWith("Table 'u': key column 'name' has the nondeterministic collation", refused.Message, StringComparison.Ordinal);
        Assert.Contains("COLLATE \"default\"", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorIds.SchemaMismatch, check.ErrorId);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".u"));

        _fixture.PgExecute($"ALTER TABLE \"{_fixture.Schema}\".u ALTER COLUMN name TYPE text COLLATE \"default\"");
        Assert.Equal((SyncStatus.Succeeded, 2L), ((await _fixture.SyncAsync(path)) is var result ? (result.Status, result.Inserted) : default));
    }

    [Fact]
    public async Task A_first_load_into_a_table_whose_trigger_drops_rows_counts_only_what_was_stored_and_holds_the_rest()
    {
        var path = Rows();
        _fixture.PgExecute($"CREATE SCHEMA \"{_fixture.Schema}\"; CREATE TABLE {Table} (id bigint PRIMARY KEY, name text NOT NULL, qty bigint)");
        Trigger("skip_big", "BEFORE INSERT OR UPDATE", "IF new.qty >= 50 THEN RETURN NULL; END IF; RETURN new;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 4L, 6L), (result.Status, result.Inserted, result.Quarantined));
        Assert.Equal(4, _fixture.PgScalar($"SELECT count(*) FROM {Table}"));
        Assert.Equal(6, (await HeldAsync(path)).Count);
        Assert.Equal(6, await PendingAsync(path));

        _fixture.PgExecute($"DROP TRIGGER skip_big ON {Table}");
        var retried = await _engine.RetryQuarantineAsync(_fixture.Request(path));
        Assert.Equal((SyncStatus.Succeeded, 6L), (retried!.Status, retried.Inserted));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_row_a_trigger_raises_for_is_held_back_like_a_constraint_violation_and_the_rest_commits()
    {
        var path = await SyncedRowsAsync();
        Trigger("no_negative", "AFTER INSERT OR UPDATE", "IF new.qty < 0 THEN RAISE EXCEPTION 'negative qty % for id %', new.qty, new.id; END IF; RETURN new;");
        SyncFixture.Execute(path, "INSERT INTO t VALUES (11, 'bad', -1), (12, 'good', 1); UPDATE t SET qty = -3 WHERE id = 3; UPDATE t SET qty = 44 WHERE id = 4;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 1L, 1L), (result.Status, result.Quarantined, result.Inserted, result.Updated));
        var held = await HeldAsync(path);
        Assert.Equal(["(id=11)", "(id=3)"], held.Select(h => h.Key).Order(StringComparer.Ordinal));
        Assert.All(held, h => Assert.Contains("P0001: negative qty", h.Reason, StringComparison.Ordinal));
        Assert.Equal(44, _fixture.PgScalar($"SELECT qty FROM {Table} WHERE id = 4"));
    }

    [Fact]
    public async Task A_partitioned_target_table_takes_pushed_inserts_updates_and_deletes_with_true_counts()
    {
        // Every push with a new row failed on a DBA-made partitioned table (0A000 "cannot retrieve a system column in this
        // context": the upsert's RETURNING t.xmax, which a partitioned table cannot return), naming no table.
        var path = Rows();
        _fixture.PgExecute($"""
            CREATE SCHEMA "{_fixture.Schema}";
            CREATE TABLE {Table} (id bigint PRIMARY KEY, name text NOT NULL, qty bigint) PARTITION BY RANGE (id);
            CREATE TABLE "{_fixture.Schema}".t_low PARTITION OF {Table} FOR VALUES FROM (MINVALUE) TO (100);
            CREATE TABLE "{_fixture.Schema}".t_high PARTITION OF {Table} FOR VALUES FROM (100) TO (MAXVALUE);
            """);
        var load = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 10L), (load.Status, load.Inserted));
        SyncFixture.Execute(path, "INSERT INTO t VALUES (11, 'n11', 1), (150, 'n150', 2); UPDATE t SET name = 'two' WHERE id = 2; DELETE FROM t WHERE id = 3;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 2L, 1L, 1L), (result.Status, result.Inserted, result.Updated, result.Deleted));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t_high"));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Theory]
    [InlineData("ALTER TABLE {0} RENAME TO t_base; CREATE VIEW {0} AS SELECT * FROM {1}.t_base", "is a view in PostgreSQL, not a table")]
    [InlineData("CREATE RULE keep AS ON DELETE TO {0} DO INSTEAD NOTHING", "has rules that DbSync cannot write through: keep (DO INSTEAD ON DELETE)")]
    [InlineData("CREATE TABLE {1}.audit (id bigint); CREATE RULE audit AS ON UPDATE TO {0} DO ALSO INSERT INTO {1}.audit VALUES (new.id)", "has rules that DbSync cannot write through: audit (ON UPDATE)")]
    [InlineData("ALTER TABLE {0} DROP COLUMN qty; ALTER TABLE {0} ADD COLUMN qty bigint GENERATED ALWAYS AS (id * 100) STORED", "column 'qty' is a generated column in PostgreSQL table")]
    public async Task A_target_a_dba_turned_into_a_view_gave_rules_or_a_generated_column_is_a_schema_mismatch_before_any_write(string ddl, string message)
    {
        // Raw PostgreSQL errors that named no table (42P07 "relation already exists": DbSync did not see the view and
        // tried to create the table; 428C9 "can only be updated to DEFAULT"; 0A000 "cannot perform DELETE RETURNING",
        // "INSERT with ON CONFLICT clause cannot be used with table that has INSERT or UPDATE rules"), and `test` passed
        // (drift exploration, finding 10).
        var path = await SyncedRowsAsync();
        _fixture.PgExecute(string.Format(System.Globalization.CultureInfo.InvariantCulture, ddl, Table, $"\"{_fixture.Schema}\""));
        SyncFixture.Execute(path, "UPDATE t SET name = 'changed' WHERE id = 1");

        var error = await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(path));

        Assert.Equal(ErrorIds.SchemaMismatch, error.ErrorId);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("Table 't': ", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await PendingAsync(path));
        var checks = await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema });
        var compatibility = Assert.Single(checks, c => c.Name == "Target.Compatibility");
        Assert.Equal(CheckStatus.Fail, compatibility.Status);
        Assert.Contains(message, compatibility.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sync_that_waits_past_command_timeout_for_a_dbas_lock_says_so_and_applies_nothing()
    {
        // With Command Timeout set, a run blocked by a DBA's LOCK TABLE failed as "cannot be reached: Exception while
        // reading from stream", though the server answered (drift exploration, finding 11).
        var path = await SyncedRowsAsync();
        SyncFixture.Execute(path, "UPDATE t SET name = 'changed' WHERE id = 1");
        await using var dba = new Npgsql.NpgsqlConnection(TestServer.ConnectionString);
        await dba.OpenAsync();
        await using var transaction = await dba.BeginTransactionAsync();
        await using (var lockTable = new Npgsql.NpgsqlCommand($"LOCK TABLE {Table} IN ACCESS EXCLUSIVE MODE", dba, transaction))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        var error = await Assert.ThrowsAsync<DbSyncException>(() => _engine.SyncAsync(new SyncRequest
        {
            Path = path, Schema = _fixture.Schema,
            ConnectionString = new Npgsql.NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { CommandTimeout = 2 }.ConnectionString,
        }));
        await transaction.RollbackAsync();

        Assert.Equal(ErrorIds.TargetUnreachable, error.ErrorId);
        Assert.Contains("did not answer within the Command Timeout (2 s)", error.Message, StringComparison.Ordinal);
        Assert.Contains("lock another session holds", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await PendingAsync(path));
        Assert.Equal("n1", _fixture.PgText($"SELECT name FROM {Table} WHERE id = 1"));
    }

    [Fact]
    public async Task A_run_waiting_on_postgresql_has_tcp_keepalive_armed_so_a_peer_gone_silent_ends_it()
    {
        // A one-shot run waits on PostgreSQL without a time limit, and only the watch's kept connection had keepalives:
        // in a network gone silent (a partition, a NAT or VPN that dropped the flow) a scheduled run waited for ever,
        // holding the file's run lock. A silent peer cannot be made on loopback (the kernel answers the probes), so this
        // looks at the kernel's timer on the run's own socket while the run waits for a DBA's lock: armed for a probe
        // within 10 s, or, when the connection string sets its own keepalive time, within that.
        var path = await SyncedRowsAsync();
        foreach (var (extra, atMostSeconds, atLeastSeconds) in new[] { ("", 10.0, 0.0), (";Tcp Keepalive Time=600", 600.0, 11.0) })
        {
            SyncFixture.Execute(path, $"UPDATE t SET qty = qty + 1 WHERE id = 1");
            await using var dba = new Npgsql.NpgsqlConnection(TestServer.ConnectionString);
            await dba.OpenAsync();
            await using var transaction = await dba.BeginTransactionAsync();
            await using (var lockTable = new Npgsql.NpgsqlCommand($"LOCK TABLE {Table} IN ACCESS EXCLUSIVE MODE", dba, transaction))
            {
                await lockTable.ExecuteNonQueryAsync();
            }

            var name = $"keepalive-{_fixture.Schema}";
            var run = _engine.SyncAsync(new SyncRequest
            {
                Path = path, Schema = _fixture.Schema,
                ConnectionString = new Npgsql.NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { ApplicationName = name }.ConnectionString + extra,
            });
            var port = 0;
            for (var clock = System.Diagnostics.Stopwatch.StartNew(); port == 0 && clock.Elapsed < TimeSpan.FromSeconds(30) && !run.IsCompleted; await Task.Delay(50))
            {
                port = (int)_fixture.PgScalar($"SELECT coalesce(max(client_port), 0) FROM pg_stat_activity WHERE application_name = '{name}' AND wait_event_type = 'Lock'");
            }

            Assert.True(port > 0, "the run never waited for the lock");
            var (timer, seconds) = KernelTimer(port);
            await transaction.RollbackAsync();
            Assert.Equal(SyncStatus.Succeeded, (await run).Status);

            Assert.True(timer == 2, $"the run's socket (local port {port}) has kernel timer {timer}, not the keepalive timer (2)");
            Assert.InRange(seconds, atLeastSeconds, atMostSeconds);
        }

        Assert.Equal(0, await PendingAsync(path));
    }

    /// <summary>The kernel's pending timer on the loopback TCP socket with this local port (/proc/net/tcp: 0 none, 1 retransmit, 2 keepalive) and seconds until it fires.</summary>
    private static (int Timer, double Seconds) KernelTimer(int localPort)
    {
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when ...
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (Convert.ToInt32(fields[1][(fields[1].LastIndexOf(':') + 1)..], 16) == localPort && fields[3] == "01")
                {
                    var timer = fields[5].Split(':');
                    return (Convert.ToInt32(timer[0], 16), Convert.ToInt64(timer[1], 16) / 100.0); // clock ticks of 1/100 s (USER_HZ)
                }
            }
        }

        throw new InvalidOperationException($"no established TCP socket with local port {localPort}");
    }

    [Fact]
    public async Task A_resync_whose_deletes_a_trigger_skips_says_how_many_rows_stay()
    {
        // A resync deletes the target rows the file does not have; a trigger that skipped some of those deletes left them
        // without a word, and the run said Succeeded (drift exploration, finding 3's resync).
        var path = await SyncedRowsAsync();
        _fixture.PgExecute($"INSERT INTO {Table} VALUES (98, 'theirs', 1), (99, 'kept', 1)");
        Trigger("keep_99", "BEFORE DELETE", "IF old.id = 99 THEN RETURN NULL; END IF; RETURN old;");

        var result = await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Resync = true });

        Assert.Equal(1, result.Deleted);
        Assert.Contains(result.Warnings, w => w.StartsWith("Table t: 1 row(s) the file no longer has stay in PostgreSQL", StringComparison.Ordinal)
            && w.Contains("a trigger, rule or row-level security policy", StringComparison.Ordinal));
        Assert.Equal("99", _fixture.PgText($"SELECT string_agg(id::text, ' ') FROM {Table} WHERE id > 10"));
    }

    [Fact]
    public async Task Rows_that_swap_values_of_a_unique_constraint_a_DBA_added_are_held_with_the_way_out_which_heals_them()
    {
        // Schema exploration F7: SQLite swaps two rows' unique values in one transaction; PostgreSQL, checking a constraint
        // that is not deferrable row by row, refused each row alone, and the rows were held for ever with a reason that
        // pointed at nothing one could fix.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE seat (id INTEGER PRIMARY KEY, pos INTEGER NOT NULL UNIQUE, who TEXT);
            INSERT INTO seat VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var seat = $"\"{_fixture.Schema}\".seat";
        _fixture.PgExecute($"ALTER TABLE {seat} ADD CONSTRAINT seat_pos_key UNIQUE (pos)");
        SyncFixture.Execute(path, "BEGIN; UPDATE seat SET pos = -1 WHERE id = 1; UPDATE seat SET pos = 1 WHERE id = 2; UPDATE seat SET pos = 2 WHERE id = 1; COMMIT;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L), (result.Status, result.Quarantined));
        Assert.All(await HeldAsync(path), h => Assert.Contains("make it a DEFERRABLE INITIALLY DEFERRED constraint", h.Reason, StringComparison.Ordinal));

        // The way out it gives works.
        _fixture.PgExecute($"ALTER TABLE {seat} DROP CONSTRAINT seat_pos_key, ADD CONSTRAINT seat_pos_key UNIQUE (pos) DEFERRABLE INITIALLY DEFERRED");
        var retried = await _engine.RetryQuarantineAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema });
        Assert.Equal((SyncStatus.Succeeded, 2L), (retried!.Status, retried.Updated));
        Assert.Equal("1:2 2:1 3:3", _fixture.PgText($"SELECT string_agg(id || ':' || pos, ' ' ORDER BY id) FROM {seat}"));
        Assert.Equal(0, await PendingAsync(path));
    }

    public static TheoryData<string, string> UniqueIndexes => new()
    {
        { "ALTER TABLE {0} ADD CONSTRAINT seat_rule UNIQUE (pos)", "UPDATE seat SET pos = 3 - pos WHERE id IN (1, 2)" },
        { "CREATE UNIQUE INDEX seat_rule ON {0} (pos)", "UPDATE seat SET pos = 3 - pos WHERE id IN (1, 2)" },
        { "CREATE UNIQUE INDEX seat_rule ON {0} (lower(who))", "UPDATE seat SET who = CASE id WHEN 1 THEN 'B' ELSE 'A' END WHERE id IN (1, 2)" },
        { "CREATE UNIQUE INDEX seat_rule ON {0} (pos) WHERE pos > 0", "UPDATE seat SET pos = 3 - pos WHERE id IN (1, 2)" },
    };

    [Theory]
    [MemberData(nameof(UniqueIndexes))]
    public async Task The_way_out_for_rows_that_swap_values_of_a_unique_index_is_SQL_that_works_for_what_the_index_is(string ddl, string swap)
    {
        // A DBA's CREATE UNIQUE INDEX got "ALTER TABLE ... DROP CONSTRAINT", which fails for an index ("constraint ... does
        // not exist"), and "UNIQUE (...)" left the columns to fill in (capture exploration 2, F7).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE seat (id INTEGER PRIMARY KEY, pos INTEGER NOT NULL, who TEXT);
            INSERT INTO seat VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var seat = $"\"{_fixture.Schema}\".seat";
        _fixture.PgExecute(string.Format(System.Globalization.CultureInfo.InvariantCulture, ddl, seat));
        SyncFixture.Execute(path, swap);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L), (result.Status, result.Quarantined));
        var reason = (await HeldAsync(path)).First().Reason;
        const string Before = "make it a DEFERRABLE INITIALLY DEFERRED constraint (", After = "), then run 'dbsync quarantine --retry'";
        var start = reason.IndexOf(Before, StringComparison.Ordinal) + Before.Length;
        var sql = reason[start..reason.IndexOf(After, start, StringComparison.Ordinal)];
        Assert.DoesNotContain("(...)", sql, StringComparison.Ordinal);
        // The SQL it gives runs as given, and the retry heals the rows.
        _fixture.PgExecute(sql);
        var retried = await _engine.RetryQuarantineAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema });
        Assert.Equal((SyncStatus.Succeeded, 2L), (retried!.Status, retried.Updated));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, await PendingAsync(path));
    }
}
