using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;
using Npgsql;

namespace DbSync.Tests;

/// <summary>
/// Targets an administrator set up, where <c>test</c> passed (or named the wrong problem) and <c>sync</c> then failed
/// (target exploration): <c>test</c> must fail naming the problem and a fix that works, and <c>sync</c> must say what
/// it met. Each test has a database and a role of its own; the administrator is the test server's superuser.
/// </summary>
public sealed class PreflightTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly string _database;
    private readonly string _role;
    private readonly string _tablespace;
    private const string Password = "preflight";

    public PreflightTests()
    {
        _database = "f_" + _fixture.Schema;
        _role = "q_" + _fixture.Schema;
        _tablespace = "t_" + _fixture.Schema;
        _fixture.PgExecute($"CREATE DATABASE {_database}");
        _fixture.PgExecute($"CREATE ROLE {_role} LOGIN PASSWORD '{Password}'");
        Admin("REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE SCHEMA app;");
    }

    public void Dispose()
    {
        _fixture.PgExecute($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        _fixture.PgExecute($"DROP TABLESPACE IF EXISTS {_tablespace}");
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

    private string Items(string name = "test.sqlite") => _fixture.CreateDatabase("""
        CREATE TABLE kind (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE item (id INTEGER PRIMARY KEY, kind_id INTEGER NOT NULL REFERENCES kind (id), name TEXT);
        INSERT INTO kind VALUES (1, 'tool'), (2, 'part');
        INSERT INTO item VALUES (1, 1, 'hammer'), (2, 2, 'bolt'), (3, 2, 'nut');
        """, name);

    private Task<IReadOnlyList<CheckResult>> TestAsync(string path, string connection) =>
        new SyncEngine().TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = connection, Schema = "app" });

    private Task<SyncResult> SyncAsync(string path, string connection) =>
        new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = connection, Schema = "app" });

    private static List<string> Failed(IReadOnlyList<CheckResult> checks) =>
        checks.Where(c => c.Status == CheckStatus.Fail).Select(c => $"{c.Name}: {c.Message} / {c.Fix}").ToList();

    /// <summary>The file's two tables made by one sync as the administrator, with DbSync's own tables and the grants on them.</summary>
    private async Task<string> MadeByTheAdministratorAsync()
    {
        var path = Items();
        Assert.Equal(SyncStatus.Succeeded, (await SyncAsync(path, AdminConnection)).Status);
        Admin($"""
            GRANT USAGE ON SCHEMA dbsync TO {_role};
            GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA dbsync TO {_role};
            GRANT USAGE ON ALL SEQUENCES IN SCHEMA dbsync TO {_role};
            """);
        return path;
    }

    [Fact]
    public async Task Without_usage_on_the_schema_test_names_that_grant_and_no_lock()
    {
        // Every table privilege but no USAGE on schema app: test said "did not answer a check within 5 s (42501 ...)"
        // as Target.Responsive, with a fix that hunted for locks, and skipped the remaining checks (F1).
        var path = await MadeByTheAdministratorAsync();
        Admin($"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role};");
        SyncFixture.Execute(path, "UPDATE item SET name = 'claw hammer' WHERE id = 1;");

        var checks = await TestAsync(path, RoleConnection);
        var refused = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection));

        Assert.DoesNotContain(checks, c => c.Name == "Target.Responsive");
        var check = Assert.Single(checks, c => c.Status == CheckStatus.Fail);
        Assert.Equal(("Target.TablePrivileges", ErrorIds.PermissionDenied), (check.Name, check.ErrorId));
        Assert.Equal($"GRANT USAGE ON SCHEMA \"app\" TO \"{_role}\";", check.Fix);
        Assert.Equal(ErrorIds.PermissionDenied, refused.ErrorId);

        Admin(check.Fix!);
        Assert.Empty(Failed(await TestAsync(path, RoleConnection)));
        var push = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 1L), (push.Status, push.Updated));
    }

    [Fact]
    public async Task Without_select_on_tables_test_names_each_table_and_no_lock()
    {
        // INSERT, UPDATE, DELETE but no SELECT: the largest-key probe of the first table failed 42501, reported as a
        // lock wait, and the second table was never checked.
        var path = await MadeByTheAdministratorAsync();
        Admin($"GRANT USAGE ON SCHEMA app TO {_role}; GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role}; GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA app TO {_role};");

        var checks = await TestAsync(path, RoleConnection);

        Assert.DoesNotContain(checks, c => c.Name == "Target.Responsive");
        Assert.Equal(["item", "kind"], checks.Where(c => c.Name == "Target.TablePrivileges" && c.Status == CheckStatus.Fail).Select(c => c.Target).Order());
    }

    [Fact]
    public async Task A_privilege_an_administrators_trigger_lacks_is_named_as_the_triggers_not_as_one_test_checks()
    {
        // A DBA's audit trigger writes to schema audit, which the role may not use: the sync failed saying test names
        // each missing grant, where test had passed and cannot know the trigger's needs (F4).
        var path = await MadeByTheAdministratorAsync();
        Admin($"""
            GRANT USAGE ON SCHEMA app TO {_role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role};
            GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA app TO {_role};
            CREATE SCHEMA audit; CREATE TABLE audit.log (id bigint);
            CREATE FUNCTION app.log_item() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN INSERT INTO audit.log VALUES (NEW.id); RETURN NEW; END';
            CREATE TRIGGER log_item AFTER INSERT OR UPDATE ON app.item FOR EACH ROW EXECUTE FUNCTION app.log_item();
            """);
        SyncFixture.Execute(path, "UPDATE item SET name = 'claw hammer' WHERE id = 1;");

        Assert.Empty(Failed(await TestAsync(path, RoleConnection)));
        var refused = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection));

        Assert.Equal(ErrorIds.PermissionDenied, refused.ErrorId);
        Assert.Contains("permission denied for schema audit", refused.Message, StringComparison.Ordinal);
        Assert.Contains("log_item", refused.Message, StringComparison.Ordinal);
        Assert.Contains("does not check it", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("names each missing grant", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_table_whose_foreign_key_references_an_administrators_table_needs_references_and_test_says_so()
    {
        // The administrator made kind; the role may create item in schema app, with a foreign key to kind, which needs
        // REFERENCES on kind: test passed, the sync failed (F7).
        var path = Items();
        Admin($"""
            CREATE TABLE app.kind (id bigint PRIMARY KEY, name text NOT NULL);
            GRANT USAGE, CREATE ON SCHEMA app TO {_role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON app.kind TO {_role};
            CREATE SCHEMA dbsync AUTHORIZATION {_role};
            """);

        var checks = await TestAsync(path, RoleConnection);
        await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection));

        var check = Assert.Single(checks, c => c.Status == CheckStatus.Fail);
        Assert.Equal(("Target.TablePrivileges", ErrorIds.PermissionDenied, "item"), (check.Name, check.ErrorId, check.Target));
        Assert.Equal($"GRANT REFERENCES ON \"app\".\"kind\" TO \"{_role}\";", check.Fix);
        Admin(check.Fix!);
        Assert.Empty(Failed(await TestAsync(path, RoleConnection)));
        var load = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 5L), (load.Status, load.Inserted));
        Assert.Equal("3", AdminText("SELECT count(*) FROM app.item"));
    }

    [Fact]
    public async Task A_deferrable_primary_key_is_a_schema_mismatch_before_anything_is_written_and_the_fix_works()
    {
        // PostgreSQL takes no deferrable constraint as ON CONFLICT's arbiter, nor as a foreign key's referenced key:
        // test passed, every push (or the child's foreign key) failed with a bare 55000 (F14).
        var path = Items();
        Admin("CREATE TABLE app.kind (id bigint, name text NOT NULL, CONSTRAINT kind_pk PRIMARY KEY (id) DEFERRABLE INITIALLY DEFERRED);");

        var check = Assert.Single(await TestAsync(path, AdminConnection), c => c.Status == CheckStatus.Fail);
        var refused = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, AdminConnection));

        Assert.Equal(("Target.Compatibility", ErrorIds.SchemaMismatch, "kind"), (check.Name, check.ErrorId, check.Target));
        Assert.Equal(ErrorIds.SchemaMismatch, refused.ErrorId);
        Assert.Contains("DEFERRABLE", refused.Message, StringComparison.Ordinal);
        Assert.Null(AdminText("SELECT to_regclass('app.item')::text"));
        Assert.Equal("0", AdminText("SELECT count(*) FROM app.kind"));

        var fix = refused.Message[refused.Message.IndexOf("ALTER TABLE", StringComparison.Ordinal)..];
        Admin(fix[..(fix.IndexOf(';', StringComparison.Ordinal) + 1)]);
        Assert.Equal(SyncStatus.Succeeded, (await SyncAsync(path, AdminConnection)).Status);
        Assert.Equal("2", AdminText("SELECT count(*) FROM app.kind"));
    }

    [Fact]
    public async Task A_sequence_an_extra_columns_default_draws_from_needs_usage_and_test_says_so()
    {
        // An administrator's extra bigserial column, with GRANT ... ON ALL TABLES but not its sequence: test passed,
        // every push of a new row failed as a whole (F16).
        var path = await MadeByTheAdministratorAsync();
        Admin($"""
            ALTER TABLE app.item ADD COLUMN audit_no bigserial;
            GRANT USAGE ON SCHEMA app TO {_role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role};
            GRANT SELECT, UPDATE ON SEQUENCE app.item_id_seq, app.kind_id_seq TO {_role};
            """);
        SyncFixture.Execute(path, "INSERT INTO item VALUES (4, 1, 'saw');");

        var check = Assert.Single(await TestAsync(path, RoleConnection), c => c.Status == CheckStatus.Fail);
        Assert.Equal(ErrorIds.PermissionDenied, (await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection))).ErrorId);

        Assert.Equal(("Target.TablePrivileges", "item"), (check.Name, check.Target));
        Assert.Equal($"GRANT USAGE ON SEQUENCE app.item_audit_no_seq TO \"{_role}\";", check.Fix);
        Admin(check.Fix!);
        Assert.Empty(Failed(await TestAsync(path, RoleConnection)));
        var push = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 1L), (push.Status, push.Inserted));
    }

    [Fact]
    public async Task A_default_tablespace_the_role_may_not_create_in_fails_create_permission()
    {
        // ALTER DATABASE ... SET default_tablespace to a tablespace the role has no CREATE on: test passed, the first
        // sync failed "permission denied for tablespace" (F18).
        var path = Items();
        // An in-place tablespace (a developer option, superuser only) needs no directory on the server's machine.
        using (var server = TestServer.Open())
        {
            using var allow = new NpgsqlCommand("SET allow_in_place_tablespaces = true", server);
            allow.ExecuteNonQuery();
            using var create = new NpgsqlCommand($"CREATE TABLESPACE {_tablespace} LOCATION ''", server);
            create.ExecuteNonQuery();
        }

        Admin($"ALTER DATABASE {_database} SET default_tablespace = '{_tablespace}'; GRANT CREATE ON DATABASE {_database} TO {_role}; DROP SCHEMA app;");

        var check = Assert.Single(await TestAsync(path, RoleConnection), c => c.Status == CheckStatus.Fail);
        Assert.Equal(ErrorIds.PermissionDenied, (await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection))).ErrorId);

        Assert.Equal(("Target.CreatePermission", ErrorIds.PermissionDenied), (check.Name, check.ErrorId));
        Assert.Contains(_tablespace, check.Message, StringComparison.Ordinal);
        Admin(check.Fix![..(check.Fix!.IndexOf(';', StringComparison.Ordinal) + 1)]);
        Assert.Empty(Failed(await TestAsync(path, RoleConnection)));
        Assert.Equal(SyncStatus.Succeeded, (await SyncAsync(path, RoleConnection)).Status);
    }

    [Theory]
    [InlineData("CREATE TYPE app.kind AS ENUM ('a', 'b')", "kind", "an enum type")]
    [InlineData("CREATE SEQUENCE app.item", "item", "a sequence")]
    [InlineData("CREATE TABLE app.other (x int); CREATE INDEX item ON app.other (x)", "item", "an index")]
    public async Task A_type_sequence_or_index_with_a_synced_tables_name_is_a_schema_mismatch_before_anything_is_written(string sql, string table, string what)
    {
        // test passed, every sync failed with a bare 42710 "type already exists" or 42P07 "relation already exists" (F19).
        var path = Items();
        Admin(sql);

        var check = Assert.Single(await TestAsync(path, AdminConnection), c => c.Status == CheckStatus.Fail);
        var refused = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, AdminConnection));

        Assert.Equal(("Target.Compatibility", ErrorIds.SchemaMismatch, table), (check.Name, check.ErrorId, check.Target));
        Assert.Contains(what, check.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorIds.SchemaMismatch, refused.ErrorId);
        Assert.Contains($"\"app\".\"{table}\" is taken by {what}", refused.Message, StringComparison.Ordinal);
        Assert.Equal("0", AdminText("SELECT count(*) FROM pg_class WHERE relname IN ('kind', 'item') AND relkind = 'r'"));
    }

    [Fact]
    public async Task An_administrators_mixed_case_tables_need_no_create_as_the_sync_finds_them()
    {
        // Quoted PascalCase tables (as EF Core makes them), which sync matches case-insensitively: test failed
        // CreatePermission asking for a CREATE the sync never needed (F22). An index named item beside them is no clash.
        var path = Items();
        Admin($"""
            CREATE TABLE app."Kind" ("Id" bigint PRIMARY KEY, "Name" text NOT NULL);
            CREATE TABLE app."Item" ("Id" bigint PRIMARY KEY, "Kind_Id" bigint NOT NULL REFERENCES app."Kind", "Name" text);
            CREATE INDEX item ON app."Item" ("Name"); -- in the way of no table: "Item" is the one synced into
            GRANT USAGE ON SCHEMA app TO {_role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role};
            CREATE SCHEMA dbsync AUTHORIZATION {_role};
            """);

        Assert.Empty(Failed(await TestAsync(path, RoleConnection)));
        var load = await SyncAsync(path, RoleConnection);
        Assert.Equal((SyncStatus.Succeeded, 5L), (load.Status, load.Inserted));
        Assert.Equal("3", AdminText("SELECT count(*) FROM app.\"Item\""));
    }

    [Fact]
    public async Task A_release_the_role_may_not_make_after_an_offline_reset_node_is_a_warning_and_stays_pending()
    {
        // After a reset-node without --connection, the copy's next sync releases the old id with a DELETE on
        // dbsync.nodes, a grant no sync needed before: as a role granted what cli.md lists, every sync of the copy
        // failed as DbSync.PermissionDenied, all its changes blocked, and test had passed (F23).
        var original = await MadeByTheAdministratorAsync();
        Admin($"GRANT USAGE ON SCHEMA app TO {_role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role}; GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA app TO {_role};");
        var copy = Path.Combine(_fixture.Directory, "copy.sqlite");
        File.Copy(original, copy);
        var reset = await new SyncEngine().ResetNodeAsync(new ResetNodeRequest { Path = copy });
        SyncFixture.Execute(copy, "INSERT INTO item VALUES (4, 1, 'saw');");

        var checks = await TestAsync(copy, RoleConnection);
        var first = await SyncAsync(copy, RoleConnection);
        var again = await SyncAsync(copy, RoleConnection);

        Assert.Empty(Failed(checks));
        var warned = Assert.Single(checks, c => c is { Name: "Target.DbSyncSchema", Status: CheckStatus.Warning });
        Assert.Equal($"GRANT DELETE ON dbsync.nodes TO \"{_role}\";", warned.Fix);
        Assert.Equal((SyncStatus.Succeeded, 1L), (first.Status, first.Inserted));
        Assert.Equal("saw", AdminText("SELECT name FROM app.item WHERE id = 4"));
        Assert.Contains(first.Warnings, w => w.Contains(reset.PreviousNodeId!, StringComparison.Ordinal) && w.Contains("GRANT DELETE ON dbsync.nodes", StringComparison.Ordinal));
        Assert.Contains(again.Warnings, w => w.Contains("GRANT DELETE ON dbsync.nodes", StringComparison.Ordinal)); // still to release

        Admin(warned.Fix!);
        Assert.DoesNotContain((await SyncAsync(copy, RoleConnection)).Warnings, w => w.Contains("dbsync.nodes", StringComparison.Ordinal));
        Assert.Equal("0", AdminText($"SELECT count(*) FROM dbsync.nodes WHERE node_id = '{reset.PreviousNodeId}'"));
    }

    [Fact]
    public async Task A_schema_named_in_another_case_is_the_administrators_schema_and_two_such_are_refused()
    {
        // F25 (target exploration): --schema Sales beside an administrator's "Sales" created a schema sales and loaded
        // every table there, and no option could name "Sales" without keeping the case of every table and column too.
        Admin("""CREATE SCHEMA "Sales" """);
        var path = Items();
        var checks = await new SyncEngine().TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = AdminConnection, Schema = "Sales" });
        Assert.Empty(Failed(checks));
        Assert.Contains(checks, c => c.Name == "Target.Schema" && c.Status == CheckStatus.Pass && c.Target == "Sales");
        var plan = await new SyncEngine().PlanAsync(new SyncRequest { Path = path, ConnectionString = AdminConnection, Schema = "Sales" });
        Assert.All(plan.Tables, t => Assert.StartsWith("\"Sales\".", t.Target, StringComparison.Ordinal));

        var result = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = AdminConnection, Schema = "Sales" });

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal("3", AdminText("""SELECT count(*) FROM "Sales".item"""));
        Assert.Null(AdminText("SELECT nspname FROM pg_namespace WHERE nspname = 'sales'"));

        // "Sales" and "SALES", and no sales: which one is meant is unknown, and nothing is created or written.
        Admin("""CREATE SCHEMA "SALES" """);
        var other = Items("other.sqlite");
        var refused = await Assert.ThrowsAsync<DbSyncException>(() =>
            new SyncEngine().SyncAsync(new SyncRequest { Path = other, ConnectionString = AdminConnection, Schema = "sales" }));
        Assert.Equal(ErrorIds.UsageError, refused.ErrorId);
        Assert.Contains("\"SALES\" and \"Sales\"", refused.Message, StringComparison.Ordinal);
        checks = await new SyncEngine().TestAsync(new ConnectionTestRequest { Path = other, ConnectionString = AdminConnection, Schema = "sales" });
        Assert.Contains(checks, c => c.Name == "Target.Schema" && c.Status == CheckStatus.Fail && c.ErrorId == ErrorIds.UsageError);
        Assert.Null(AdminText("SELECT nspname FROM pg_namespace WHERE nspname = 'sales'"));
        Assert.Null(AdminText("""SELECT count(*) FROM pg_tables WHERE schemaname = 'SALES' HAVING count(*) > 0"""));
    }

    [Fact]
    public async Task Test_names_a_target_tables_triggers_rules_and_row_security_that_a_sync_checks_rows_against()
    {
        // F5 (target exploration): test passed such tables in silence; the first sync's held rows were the first word of them.
        var path = await MadeByTheAdministratorAsync();
        Admin("""
            CREATE FUNCTION app.shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;
            CREATE TRIGGER shout BEFORE INSERT OR UPDATE ON app.item FOR EACH ROW EXECUTE FUNCTION app.shout();
            ALTER TABLE app.kind ENABLE ROW LEVEL SECURITY;
            """);

        var checks = await TestAsync(path, AdminConnection);

        Assert.Empty(Failed(checks));
        var item = Assert.Single(checks, c => c.Name == "Target.Compatibility" && c.Status == CheckStatus.Warning && c.Target == "item");
        Assert.Contains("has trigger shout:", item.Message, StringComparison.Ordinal);
        var kind = Assert.Single(checks, c => c.Name == "Target.Compatibility" && c.Status == CheckStatus.Warning && c.Target == "kind");
        Assert.Contains("has row-level security:", kind.Message, StringComparison.Ordinal);

        // What it warns of is what a sync then does: the row the trigger rewrote is held back.
        SyncFixture.Execute(path, "UPDATE item SET name = 'spanner' WHERE id = 1");
        var result = await SyncAsync(path, AdminConnection);
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (result.Status, result.Quarantined));
    }

    [Fact]
    public async Task Test_warns_of_another_sessions_lock_that_a_sync_would_wait_for()
    {
        // F13 (target exploration): only the largest-key read of Target.Sequences noticed a lock, on a table with one
        // integer key and a lock that blocks reading; a CREATE INDEX's SHARE lock, which lets reads through and stops
        // every write, went unsaid, and the sync then waited for it.
        var path = await MadeByTheAdministratorAsync();
        using var holder = new NpgsqlConnection(AdminConnection);
        holder.Open();
        using (var command = new NpgsqlCommand("BEGIN; LOCK TABLE app.item IN SHARE MODE", holder))
        {
            command.ExecuteNonQuery();
        }

        var checks = await TestAsync(path, AdminConnection);

        var warning = Assert.Single(checks, c => c.Name == "Target.Locks");
        Assert.Equal((CheckStatus.Warning, "item", ErrorIds.TargetError), (warning.Status, warning.Target, warning.ErrorId));
        Assert.Contains($"ShareLock by process {holder.ProcessID}", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"WHERE pid IN ({holder.ProcessID})", warning.Fix, StringComparison.Ordinal);

        using (var command = new NpgsqlCommand("ROLLBACK", holder))
        {
            command.ExecuteNonQuery();
        }

        Assert.DoesNotContain(await TestAsync(path, AdminConnection), c => c.Name == "Target.Locks");
    }
}
