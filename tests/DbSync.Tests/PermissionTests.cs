using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;
using Npgsql;

namespace DbSync.Tests;

/// <summary>
/// Least-privileged roles, as administrators set them up: what <c>test</c> says must be what <c>sync</c> then does.
/// Each test has a database and a role of its own; the administrator is the test server's superuser.
/// </summary>
public sealed class PermissionTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly string _database;
    private readonly string _role;
    private const string Password = "least-privilege";

    public PermissionTests()
    {
        _database = "p_" + _fixture.Schema;
        _role = "r_" + _fixture.Schema;
        _fixture.PgExecute($"CREATE DATABASE {_database}");
        _fixture.PgExecute($"CREATE ROLE {_role} LOGIN PASSWORD '{Password}'");
        // PostgreSQL 15's defaults: PUBLIC may not create in schema public; may connect and create temporary tables.
        Admin("REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE SCHEMA app;");
    }

    public void Dispose()
    {
        _fixture.PgExecute($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        // Also revokes what was granted on shared objects (GRANT SET ON PARAMETER), which would keep the role.
        _fixture.PgExecute($"DROP OWNED BY {_role}");
        _fixture.PgExecute($"DROP ROLE IF EXISTS {_role}");
        _fixture.Dispose();
    }

    private string AdminConnection => new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Database = _database, Pooling = false }.ConnectionString;

    private string RoleConnection => new NpgsqlConnectionStringBuilder(AdminConnection) { Username = _role, Password = Password }.ConnectionString;

    private void Admin(string sql)
    {
        using var connection = new NpgsqlConnection(AdminConnection);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private string? AdminText(string sql)
    {
        using var connection = new NpgsqlConnection(AdminConnection);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return command.ExecuteScalar() is { } value and not DBNull ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private string Items() => _fixture.CreateDatabase("""
        CREATE TABLE kind (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE item (id INTEGER PRIMARY KEY, kind_id INTEGER NOT NULL REFERENCES kind (id), name TEXT);
        INSERT INTO kind VALUES (1, 'tool'), (2, 'part');
        INSERT INTO item VALUES (1, 1, 'hammer'), (2, 2, 'bolt'), (3, 2, 'nut');
        """);

    private Task<IReadOnlyList<CheckResult>> TestAsync(string path, string connection) =>
        new SyncEngine().TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = connection, Schema = "app" });

    private Task<SyncResult> SyncAsync(string path, string connection) =>
        new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = connection, Schema = "app" });

    private static IEnumerable<CheckResult> Failed(IReadOnlyList<CheckResult> checks) => checks.Where(c => c.Status == CheckStatus.Fail);

    private static CheckResult Only(IReadOnlyList<CheckResult> checks, string name) => Assert.Single(checks, c => c.Name == name);

    /// <summary>Passes, then a load and a push as the role succeed, and the run log reaches dbsync.runs.</summary>
    private async Task AssertTestPassesAndSyncsAsync(string path)
    {
        var checks = await TestAsync(path, RoleConnection);
        Assert.Empty(Failed(checks).Select(c => $"{c.Name}: {c.Message} / {c.Fix}"));
        var load = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 5L), (load.Status, load.Inserted));
        SyncFixture.Execute(path, "UPDATE item SET name = 'claw hammer' WHERE id = 1; DELETE FROM item WHERE id = 3; INSERT INTO item VALUES (4, 1, 'saw');");
        var push = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 1L, 1L, 1L), (push.Status, push.Inserted, push.Updated, push.Deleted));
        Assert.True(push.Log.Postgres, push.Log.Error);
        Assert.Equal("2", AdminText($"SELECT count(*) FROM dbsync.runs WHERE path = '{Path.GetFullPath(path)}'"));
    }

    /// <summary>
    /// As an administrator sets up a role that creates nothing: DbSync's own tables made by one sync as the administrator,
    /// with the grants on them that test asks for; the file's two tables, <c>kind</c> keyed <paramref name="kindKey"/>,
    /// with <paramref name="grants"/> on them.
    /// </summary>
    private async Task AdministratorMadeTablesAsync(string kindKey, string grants)
    {
        Assert.Equal(SyncStatus.Succeeded, (await SyncAsync(_fixture.CreateDatabase("CREATE TABLE other (id INTEGER PRIMARY KEY)", "other.sqlite"), AdminConnection)).Status);
        Admin($"""
            CREATE TABLE app.kind (id {kindKey} PRIMARY KEY, name text NOT NULL);
            CREATE TABLE app.item (id bigint PRIMARY KEY, kind_id bigint NOT NULL REFERENCES app.kind (id), name text);
            GRANT USAGE ON SCHEMA app, dbsync TO {_role};
            GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA dbsync TO {_role};
            GRANT USAGE ON ALL SEQUENCES IN SCHEMA dbsync TO {_role};
            {grants}
            """);
    }

    /// <summary>The file's tables made by the administrator, with every row privilege granted, and loaded as the role.</summary>
    private async Task<string> LoadedAsTheRoleAsync()
    {
        await AdministratorMadeTablesAsync("bigint", $"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role};");
        var path = Items();
        var load = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 5L), (load.Status, load.Inserted));
        return path;
    }

    [Fact]
    public async Task A_role_whose_sessions_start_as_a_replica_is_refused_for_writing_unless_it_may_set_origin()
    {
        // ALTER ROLE ... SET session_replication_role = replica (a role shared with a replication tool): PostgreSQL
        // checked no foreign key and fired no trigger for the run's writes, so an orphan went in, silently, and test
        // said nothing (target exploration, F9).
        var path = await LoadedAsTheRoleAsync();
        Admin($"""
            CREATE TABLE app.audit (n int);
            CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN INSERT INTO app.audit VALUES (1); RETURN NEW; END';
            CREATE TRIGGER audit AFTER INSERT ON app.item FOR EACH ROW EXECUTE FUNCTION app.audit();
            GRANT INSERT ON app.audit TO {_role};
            ALTER ROLE {_role} SET session_replication_role = replica;
            """);
        SyncFixture.Execute(path, "PRAGMA foreign_keys = OFF; INSERT INTO item VALUES (9, 99, 'orphan'), (10, 1, 'fine');");

        var check = Only(await TestAsync(path, RoleConnection), "Target.ForeignKeyChecks");
        var refused = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection));

        Assert.Equal((CheckStatus.Fail, ErrorIds.PermissionDenied), (check.Status, check.ErrorId));
        Assert.Contains("session_replication_role = replica", check.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorIds.PermissionDenied, refused.ErrorId);
        Assert.Contains("session_replication_role = replica", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"ALTER ROLE \"{_role}\" RESET session_replication_role", refused.Message, StringComparison.Ordinal);
        Assert.Equal("0", AdminText("SELECT count(*) FROM app.item WHERE id >= 9"));

        // Allowed to set it (the grant test's fix names): the run's session is set back to origin, so the orphan is
        // held back by PostgreSQL's own check and the administrator's trigger fires.
        Admin($"GRANT SET ON PARAMETER session_replication_role TO {_role}");
        Assert.Equal(CheckStatus.Pass, Only(await TestAsync(path, RoleConnection), "Target.ForeignKeyChecks").Status);
        var push = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L), (push.Status, push.Inserted, push.Quarantined));
        Assert.Equal("10", AdminText("SELECT string_agg(id::text, ',') FROM app.item WHERE id >= 9"));
        Assert.Equal("1", AdminText("SELECT count(*) FROM app.audit"));
    }

    [Fact]
    public async Task A_role_s_statement_idle_session_and_lock_timeouts_do_not_end_a_run()
    {
        // A role's statement_timeout applied whenever the connection string set Command Timeout (every run failed with
        // a bare 57014), and its idle_session_timeout ended the session while the run waited for the file's lock
        // (TargetUnreachable), which test foresaw neither of (target exploration, F2 and F3); its lock_timeout failed a
        // run that waited for an application's row lock (F12).
        await AdministratorMadeTablesAsync("bigint", $"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role};");
        var path = Items();
        // Its copy takes one statement well over the role's 100 ms.
        SyncFixture.Execute(path, "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) INSERT INTO big SELECT i, 'value ' || i FROM n;");
        Admin($"GRANT CREATE ON SCHEMA app TO {_role}; ALTER ROLE {_role} SET statement_timeout = '100ms'; ALTER ROLE {_role} SET idle_session_timeout = '1s';");
        var connection = new NpgsqlConnectionStringBuilder(RoleConnection) { CommandTimeout = 600 }.ConnectionString;

        var load = await SyncAsync(path, connection);
        Assert.Equal(SyncStatus.Succeeded, load.Status);
        Assert.Equal("300000", AdminText("SELECT count(*) FROM app.big"));

        // Another program holds the file for 2.5 s; the run opened its PostgreSQL session before waiting for it.
        SyncFixture.Execute(path, "UPDATE item SET name = 'claw hammer' WHERE id = 1");
        using (var holder = SyncFixture.OpenSqlite(path))
        {
            SyncFixture.Execute(holder, "BEGIN IMMEDIATE");
            var push = SyncAsync(path, connection);
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            SyncFixture.Execute(holder, "COMMIT");
            Assert.Equal((SyncStatus.Succeeded, 1L), ((await push).Status, (await push).Updated));
        }

        Assert.Equal("claw hammer", AdminText("SELECT name FROM app.item WHERE id = 1"));

        // The role's lock_timeout, while an application holds the row for 1.5 s: the run waits for it (F12).
        Admin($"ALTER ROLE {_role} SET lock_timeout = '100ms'");
        SyncFixture.Execute(path, "UPDATE item SET name = 'sledge hammer' WHERE id = 1");
        using (var application = new NpgsqlConnection(AdminConnection))
        {
            application.Open();
            using var transaction = application.BeginTransaction();
            using (var hold = new NpgsqlCommand("SELECT * FROM app.item WHERE id = 1 FOR UPDATE", application, transaction))
            {
                hold.ExecuteNonQuery();
            }

            var push = SyncAsync(path, connection);
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            transaction.Commit();
            Assert.Equal((SyncStatus.Succeeded, 1L), ((await push).Status, (await push).Updated));
        }

        Assert.Equal("sledge hammer", AdminText("SELECT name FROM app.item WHERE id = 1"));
    }

    [Fact]
    public async Task A_delete_row_level_security_hides_from_the_role_is_held_back_not_marked_synced()
    {
        // A DBA enables row security: the role may see and insert every row, but update and delete only cheap ones. The
        // policy silently kept the delete of an expensive row from happening: the run said Succeeded, deleted 1, and the
        // change was marked synced, so PostgreSQL kept the row for good (drift exploration, finding 2).
        var path = await LoadedAsTheRoleAsync();
        Admin($"""
            ALTER TABLE app.item ADD COLUMN price bigint NOT NULL DEFAULT 0;
            UPDATE app.item SET price = id * 100;
            ALTER TABLE app.item ENABLE ROW LEVEL SECURITY;
            CREATE POLICY see ON app.item FOR SELECT TO {_role} USING (true);
            CREATE POLICY add ON app.item FOR INSERT TO {_role} WITH CHECK (true);
            CREATE POLICY cheap_update ON app.item FOR UPDATE TO {_role} USING (price < 200);
            CREATE POLICY cheap_delete ON app.item FOR DELETE TO {_role} USING (price < 200);
            """);
        SyncFixture.Execute(path, "DELETE FROM item WHERE id IN (1, 3)");

        var result = await SyncAsync(path, RoleConnection);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L), (result.Status, result.Deleted, result.Quarantined));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("item", "(id=3)"), (held.Table, held.Key));
        Assert.Contains("row-level security", held.Reason, StringComparison.Ordinal);
        Assert.Equal("2 3", AdminText("SELECT string_agg(id::text, ' ' ORDER BY id) FROM app.item"));
        Assert.Equal(1, (await new SyncEngine().GetStatusAsync(new StatusRequest { Path = path })).PendingChanges);

        // Once the DBA lets the role delete it, a retry heals it.
        Admin("DROP POLICY cheap_delete ON app.item; CREATE POLICY any_delete ON app.item FOR DELETE USING (true);");
        var retried = await new SyncEngine().RetryQuarantineAsync(new SyncRequest { Path = path, ConnectionString = RoleConnection, Schema = "app" });
        Assert.Equal((SyncStatus.Succeeded, 1L), (retried!.Status, retried.Deleted));
        Assert.Equal("2", AdminText("SELECT string_agg(id::text, ' ' ORDER BY id) FROM app.item"));
    }

    [Fact]
    public async Task A_row_a_row_level_security_policy_refuses_is_held_back_and_the_rest_commits()
    {
        // A policy's WITH CHECK refusing one inserted row (and its USING one update) failed the whole run as
        // PermissionDenied, sending the user to look for grants, with no row named (drift exploration, finding 8).
        var path = await LoadedAsTheRoleAsync();
        Admin($"""
            ALTER TABLE app.item ENABLE ROW LEVEL SECURITY;
            CREATE POLICY see ON app.item FOR SELECT TO {_role} USING (true);
            CREATE POLICY add ON app.item FOR INSERT TO {_role} WITH CHECK (name <> 'forbidden');
            CREATE POLICY change ON app.item FOR UPDATE TO {_role} USING (true) WITH CHECK (name <> 'forbidden');
            """);
        SyncFixture.Execute(path, "INSERT INTO item VALUES (4, 1, 'forbidden'), (5, 1, 'saw'); UPDATE item SET name = 'forbidden' WHERE id = 2; UPDATE item SET name = 'claw' WHERE id = 1;");

        var result = await SyncAsync(path, RoleConnection);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 1L, 1L), (result.Status, result.Quarantined, result.Inserted, result.Updated));
        var held = await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path });
        Assert.Equal(["(id=2)", "(id=4)"], held.Select(h => h.Key).Order(StringComparer.Ordinal));
        Assert.All(held, h => Assert.Contains("42501", h.Reason, StringComparison.Ordinal));
        Assert.Equal("claw|bolt|saw", AdminText("SELECT string_agg(name, '|' ORDER BY id) FROM app.item WHERE id IN (1, 2, 5)"));
    }

    [Fact]
    public async Task A_role_with_create_in_an_existing_schema_and_its_own_dbsync_schema_needs_no_create_on_the_database()
    {
        // test said Pass, and sync failed on CREATE SCHEMA IF NOT EXISTS, which PostgreSQL checks against the database
        // even when the schema exists; test's own fix for the dbsync schema was exactly this.
        Admin($"GRANT USAGE, CREATE ON SCHEMA app TO {_role}; CREATE SCHEMA dbsync AUTHORIZATION {_role};");
        var path = Items();

        await AssertTestPassesAndSyncsAsync(path);
    }

    [Fact]
    public async Task DbSyncs_tables_made_by_an_administrator_need_usage_on_the_conflict_sequence_and_the_run_log_reaches_them()
    {
        // As an administrator would: the tables made by one sync as the superuser, then the grants test suggests.
        Assert.Equal(SyncStatus.Succeeded, (await SyncAsync(_fixture.CreateDatabase("CREATE TABLE other (id INTEGER PRIMARY KEY)", "other.sqlite"), AdminConnection)).Status);
        Admin($"""
            GRANT USAGE, CREATE ON SCHEMA app TO {_role};
            GRANT USAGE ON SCHEMA dbsync TO {_role};
            GRANT SELECT, INSERT, UPDATE ON dbsync.runs, dbsync.nodes, dbsync.node_txns, dbsync.conflicts TO {_role};
            """);
        var path = Items();

        // The first conflict would have failed every run from then on.
        var own = Only(await TestAsync(path, RoleConnection), "Target.DbSyncSchema");
        Assert.Equal((CheckStatus.Fail, "DbSync.PermissionDenied"), (own.Status, own.ErrorId));
        Assert.Contains("conflicts_id_seq", own.Message, StringComparison.Ordinal);
        Assert.Equal($"GRANT USAGE ON SEQUENCE dbsync.conflicts_id_seq TO \"{_role}\";", own.Fix);
        Admin($"GRANT USAGE ON SEQUENCE dbsync.conflicts_id_seq TO {_role}");

        // dbsync.runs was never written: every run tried CREATE SCHEMA IF NOT EXISTS dbsync first.
        await AssertTestPassesAndSyncsAsync(path);
        Admin("UPDATE app.item SET name = 'changed in PostgreSQL' WHERE id = 2");
        SyncFixture.Execute(path, "UPDATE item SET name = 'changed in the file' WHERE id = 2");
        var conflict = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 1L), (conflict.Status, conflict.Conflicts));
    }

    [Fact]
    public async Task A_run_log_that_cannot_reach_dbsync_runs_is_a_one_line_warning_and_the_sync_succeeds()
    {
        // The warning carried Npgsql's multi-line message ("\n\nPOSITION: 28"), against docs/cli.md's one line: here the
        // role may not create dbsync.runs, which an administrator did not make.
        await AdministratorMadeTablesAsync("bigint", $"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role}; DROP TABLE dbsync.runs;");
        var path = Items();

        var result = await SyncAsync(path, RoleConnection);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.False(result.Log.Postgres);
        var warning = Assert.Single(result.Warnings, w => w.Contains("dbsync.runs", StringComparison.Ordinal));
        Assert.Contains("42501: permission denied for schema dbsync", warning, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', warning);
    }

    [Fact]
    public async Task Without_temporary_tables_test_fails_where_every_push_would()
    {
        // A common hardening step; the first load worked and every push after it failed, with test passing throughout.
        Admin($"REVOKE TEMPORARY ON DATABASE {_database} FROM PUBLIC; GRANT USAGE, CREATE ON SCHEMA app TO {_role}; CREATE SCHEMA dbsync AUTHORIZATION {_role};");
        var path = Items();

        var temp = Only(await TestAsync(path, RoleConnection), "Target.TempTables");
        Assert.Equal((CheckStatus.Fail, "DbSync.PermissionDenied"), (temp.Status, temp.ErrorId));
        Assert.Equal($"GRANT TEMPORARY ON DATABASE \"{_database}\" TO \"{_role}\";", temp.Fix);

        Admin($"GRANT TEMPORARY ON DATABASE {_database} TO {_role}");
        await AssertTestPassesAndSyncsAsync(path);
    }

    [Fact]
    public async Task Tables_an_administrator_owns_need_every_row_privilege_and_no_create_at_all()
    {
        var path = Items();
        await AdministratorMadeTablesAsync("bigint", $"GRANT SELECT, INSERT, UPDATE, DELETE ON app.kind TO {_role}; GRANT SELECT, INSERT, UPDATE ON app.item TO {_role};");

        var checks = await TestAsync(path, RoleConnection);

        // The first delete would have failed the run; test said nothing.
        var privileges = Only(checks, "Target.TablePrivileges");
        Assert.Equal((CheckStatus.Fail, "item"), (privileges.Status, privileges.Target));
        Assert.Contains("may not DELETE \"app\".\"item\"", privileges.Message, StringComparison.Ordinal);
        // Nothing needs creating: no CREATE is asked for.
        Assert.Equal(CheckStatus.Pass, Only(checks, "Target.CreatePermission").Status);

        Admin($"GRANT DELETE ON app.item TO {_role}");
        await AssertTestPassesAndSyncsAsync(path);
    }

    [Fact]
    public async Task A_key_sequence_the_role_may_not_change_is_a_warning_of_test_and_of_sync_not_a_failed_load()
    {
        var path = Items();
        await AdministratorMadeTablesAsync("bigint GENERATED BY DEFAULT AS IDENTITY", $"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role};");

        var sequence = Only(await TestAsync(path, RoleConnection), "Target.Sequences");
        Assert.Equal(CheckStatus.Warning, sequence.Status);
        Assert.Equal($"GRANT SELECT, UPDATE ON SEQUENCE app.kind_id_seq TO \"{_role}\";", sequence.Fix);

        // The load failed on setval.
        var load = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 5L), (load.Status, load.Inserted));
        Assert.Contains(load.Warnings, w => w.Contains("GRANT SELECT, UPDATE ON SEQUENCE app.kind_id_seq", StringComparison.Ordinal));

        Admin($"GRANT SELECT, UPDATE ON SEQUENCE app.kind_id_seq TO {_role}");
        SyncFixture.Execute(path, "INSERT INTO kind VALUES (40, 'jig')");
        var push = await SyncAsync(path, RoleConnection);
        Assert.DoesNotContain(push.Warnings, w => w.Contains("SEQUENCE", StringComparison.Ordinal));
        Assert.Equal("40", AdminText("SELECT last_value FROM app.kind_id_seq"));
    }

    [Fact]
    public async Task A_read_only_role_fails_test_and_sync_says_why_and_a_connection_limit_is_no_unreachable_server()
    {
        Admin($"GRANT USAGE, CREATE ON SCHEMA app TO {_role}; CREATE SCHEMA dbsync AUTHORIZATION {_role};");
        _fixture.PgExecute($"ALTER ROLE {_role} SET default_transaction_read_only = on");
        var path = Items();

        var writable = Only(await TestAsync(path, RoleConnection), "Target.Writable");
        Assert.Equal((CheckStatus.Fail, "DbSync.PermissionDenied"), (writable.Status, writable.ErrorId));
        Assert.Contains("default_transaction_read_only is on", writable.Message, StringComparison.Ordinal);
        var error = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection));
        Assert.Equal("DbSync.PermissionDenied", error.ErrorId);
        Assert.Contains("accepts no writes in this session", error.Message, StringComparison.Ordinal);

        // The server answered and refused: not "check host and port, firewalls".
        _fixture.PgExecute($"ALTER ROLE {_role} CONNECTION LIMIT 0");
        var checks = await TestAsync(path, RoleConnection);
        Assert.Equal(CheckStatus.Pass, Only(checks, "Target.Reachable").Status);
        var refused = Only(checks, "Target.Authentication");
        Assert.Equal(CheckStatus.Fail, refused.Status);
        Assert.Contains("CONNECTION LIMIT", refused.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_role_or_database_statement_timeout_does_not_limit_a_run()
    {
        // docs/cli.md: without Command Timeout, statements have no time limit. A role's setting cut the load short.
        Admin($"GRANT USAGE, CREATE ON SCHEMA app TO {_role}; CREATE SCHEMA dbsync AUTHORIZATION {_role};");
        _fixture.PgExecute($"ALTER ROLE {_role} SET statement_timeout = '20ms'");
        var path = _fixture.CreateDatabase("""
            CREATE TABLE big (id INTEGER PRIMARY KEY, note TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) INSERT INTO big SELECT i, 'note ' || i FROM n;
            """);

        var result = await SyncAsync(path, RoleConnection);

        Assert.Equal((SyncStatus.Succeeded, 300_000L), (result.Status, result.Inserted));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_column_added_in_sqlite_is_added_by_sync_and_test_fails_only_when_the_role_does_not_own_the_table(bool owner)
    {
        // test said "change the PostgreSQL table to match" for a column sync adds itself, and never named the owner.
        Admin($"GRANT USAGE, CREATE ON SCHEMA app TO {_role}; CREATE SCHEMA dbsync AUTHORIZATION {_role};");
        var path = Items();
        Assert.Equal(SyncStatus.Succeeded, (await SyncAsync(path, RoleConnection)).Status);
        if (!owner)
        {
            Admin($"ALTER TABLE app.item OWNER TO CURRENT_USER; GRANT SELECT, INSERT, UPDATE, DELETE ON app.item TO {_role};");
        }

        SyncFixture.Execute(path, "ALTER TABLE item ADD COLUMN weight REAL; UPDATE item SET weight = 1.5 WHERE id = 1;");

        var checks = await TestAsync(path, RoleConnection);
        if (owner)
        {
            Assert.Empty(Failed(checks).Select(c => $"{c.Name}: {c.Message}"));
            var result = await SyncAsync(path, RoleConnection);
            Assert.Equal(SyncStatus.Succeeded, result.Status);
            Assert.Equal("1.5", AdminText("SELECT weight FROM app.item WHERE id = 1"));
        }
        else
        {
            var added = Assert.Single(Failed(checks));
            Assert.Equal(("Target.Compatibility", "DbSync.PermissionDenied"), (added.Name, added.ErrorId));
            Assert.Contains("only the table's owner may do", added.Message, StringComparison.Ordinal);
            Assert.Contains("ALTER TABLE \"app\".\"item\" ADD COLUMN \"weight\" double precision;", added.Fix, StringComparison.Ordinal);
            var error = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection));
            Assert.Equal("DbSync.PermissionDenied", error.ErrorId);
        }
    }
}
