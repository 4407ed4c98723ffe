using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;
using Npgsql;

namespace DbSync.Tests;

/// <summary>
/// A push checks its foreign keys once per key instead of PostgreSQL's trigger per row (docs/capture.md), when nothing
/// else needs the triggers: the outcomes must be PostgreSQL's own, and where the triggers are needed they still run.
/// </summary>
public sealed class ForeignKeyTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private string Parent => $"\"{_fixture.Schema}\".parent";

    private string Child => $"\"{_fixture.Schema}\".child";

    /// <summary>parent 1..3, child 10..13 (13 without a parent), synced.</summary>
    private async Task<string> SyncedFamilyAsync()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id), name TEXT);
            INSERT INTO parent VALUES (1, 'one'), (2, 'two'), (3, 'three');
            INSERT INTO child VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c'), (13, NULL, 'none');
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = '{Child}'::regclass"));
        return path;
    }

    [Fact]
    public async Task A_push_that_keeps_every_key_is_checked_once_per_key_in_any_order_of_its_changes()
    {
        var path = await SyncedFamilyAsync();
        // A new parent with a child, a child moved to it, a child and its parent deleted together, a key set to NULL.
        SyncFixture.Execute(path, """
            INSERT INTO parent VALUES (4, 'four'); INSERT INTO child VALUES (14, 4, 'd');
            UPDATE child SET parent_id = 4 WHERE id = 11;
            DELETE FROM child WHERE id = 12; DELETE FROM parent WHERE id = 2;
            UPDATE child SET parent_id = NULL WHERE id = 10;
            UPDATE parent SET name = 'one!' WHERE id = 1;
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 2L, 3L, 2L), (result.Status, result.Inserted, result.Updated, result.Deleted));
        Assert.True(result.ForeignKeysBatched);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Rows_that_would_break_a_key_are_held_back_with_postgresql_s_error_and_the_rest_commits()
    {
        var path = await SyncedFamilyAsync();
        // With SQLite's foreign keys off (the application's choice): a child pointed at a parent that does not exist.
        SyncFixture.Execute(path, """
            PRAGMA foreign_keys = OFF;
            UPDATE child SET parent_id = 99 WHERE id = 10;
            INSERT INTO child VALUES (14, 3, 'fine'); UPDATE parent SET name = 'three!' WHERE id = 3;
            """);

        var orphan = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L, 1L), (orphan.Status, orphan.Quarantined, orphan.Inserted, orphan.Updated));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("child", "(id=10)"), (held.Table, held.Key));
        Assert.Contains("23503", held.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("Include Error Detail", held.Reason, StringComparison.Ordinal);
        Assert.Contains("It goes once its parent is in PostgreSQL", held.Reason, StringComparison.Ordinal);
        Assert.Equal("10:1 11:1 12:2 13: 14:3", _fixture.PgText($"SELECT string_agg(id || ':' || coalesce(parent_id::text, ''), ' ' ORDER BY id) FROM {Child}"));
        Assert.Equal("three!", _fixture.PgText($"SELECT name FROM {Parent} WHERE id = 3"));

        // A parent deleted under its children.
        SyncFixture.Execute(path, "PRAGMA foreign_keys = OFF; DELETE FROM parent WHERE id = 2; UPDATE parent SET name = 'one!' WHERE id = 1;");

        var orphaning = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 1L, 0L), (orphaning.Status, orphaning.Quarantined, orphaning.Updated, orphaning.Deleted));
        var both = await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path });
        Assert.Equal(["child (id=10)", "parent (id=2)"], both.Select(h => $"{h.Table} {h.Key}").Order(StringComparer.Ordinal));
        Assert.All(both, h => Assert.Contains("23503", h.Reason, StringComparison.Ordinal));
        Assert.Equal("1:one! 2:two 3:three!", _fixture.PgText($"SELECT string_agg(id || ':' || name, ' ' ORDER BY id) FROM {Parent}"));

        // Healed in SQLite: the held changes go through.
        SyncFixture.Execute(path, "UPDATE child SET parent_id = 3 WHERE id = 10; DELETE FROM child WHERE id = 12;");
        var healed = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 0L), (healed.Status, healed.Quarantined));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_row_deleted_in_sqlite_that_a_postgresql_only_table_still_references_is_held_back()
    {
        var path = await SyncedFamilyAsync();
        _fixture.PgExecute($"CREATE TABLE \"{_fixture.Schema}\".invoice (id int PRIMARY KEY, parent_id bigint REFERENCES {Parent} (id)); INSERT INTO \"{_fixture.Schema}\".invoice VALUES (1, 3)");
        SyncFixture.Execute(path, "DELETE FROM parent WHERE id = 3; UPDATE parent SET name = 'one!' WHERE id = 1;");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L), (result.Status, result.Quarantined, result.Updated));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("parent", "(id=3)"), (held.Table, held.Key));
        Assert.Contains("23503", held.Reason, StringComparison.Ordinal);
        // The advice is for a parent that rows elsewhere still need, not for an orphan whose parent is missing.
        Assert.True(held.Reason.Contains($"\". Rows of \"{_fixture.Schema}\".\"invoice\" in PostgreSQL still refer to this row", StringComparison.Ordinal), held.Reason);
        Assert.DoesNotContain("once its parent is in PostgreSQL", held.Reason, StringComparison.Ordinal);
        Assert.Equal(3, _fixture.PgScalar($"SELECT count(*) FROM {Parent}"));
    }

    [Fact]
    public async Task A_key_that_cascades_and_a_trigger_of_the_target_still_fire_because_postgresql_then_checks_itself()
    {
        var path = await SyncedFamilyAsync();
        _fixture.PgExecute($"""
            CREATE TABLE "{_fixture.Schema}".invoice (id int PRIMARY KEY, parent_id bigint REFERENCES {Parent} (id) ON DELETE CASCADE);
            INSERT INTO "{_fixture.Schema}".invoice VALUES (1, 3), (2, 1);
            """);
        SyncFixture.Execute(path, "DELETE FROM parent WHERE id = 3;");

        var cascaded = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 1L), (cascaded.Status, cascaded.Deleted));
        Assert.False(cascaded.ForeignKeysBatched);
        Assert.Equal("2", _fixture.PgText($"SELECT string_agg(id::text, ' ') FROM \"{_fixture.Schema}\".invoice"));

        // An audit trigger of the administrator's on a synced table.
        _fixture.PgExecute($"""
            DROP TABLE "{_fixture.Schema}".invoice;
            CREATE TABLE "{_fixture.Schema}".audit (child_id bigint);
            CREATE FUNCTION "{_fixture.Schema}".audit_child() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN INSERT INTO "{_fixture.Schema}".audit VALUES (NEW.id); RETURN NEW; END $$;
            CREATE TRIGGER audit AFTER INSERT OR UPDATE ON {Child} FOR EACH ROW EXECUTE FUNCTION "{_fixture.Schema}".audit_child();
            """);
        SyncFixture.Execute(path, "INSERT INTO child VALUES (14, 1, 'd'); UPDATE child SET name = 'b!' WHERE id = 11;");

        var audited = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (audited.Status, audited.Inserted, audited.Updated));
        Assert.False(audited.ForeignKeysBatched);
        Assert.Equal("11 14", _fixture.PgText($"SELECT string_agg(child_id::text, ' ' ORDER BY child_id) FROM \"{_fixture.Schema}\".audit"));

        // Once the trigger is gone, the push checks the keys itself again.
        _fixture.PgExecute($"DROP TRIGGER audit ON {Child}");
        SyncFixture.Execute(path, "UPDATE child SET parent_id = 1 WHERE id = 13;");
        Assert.True((await _fixture.SyncAsync(path)).ForeignKeysBatched);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task The_parents_a_push_refers_to_are_locked_until_its_commit_so_no_one_can_delete_them_meanwhile()
    {
        var path = await SyncedFamilyAsync();
        SyncFixture.Execute(path, "INSERT INTO child VALUES (14, 3, 'd');");
        PostgresException? refused = null;
        var progress = new InlineProgress<SyncProgress>(p =>
        {
            if (p.Phase != SyncPhase.Committing)
            {
                return;
            }

            // Between the checks and the COMMIT, another writer deletes the parent the new row refers to.
            using var other = TestServer.Open();
            using var command = new NpgsqlCommand($"SET lock_timeout = '300ms'; DELETE FROM {Parent} WHERE id = 3", other);
            refused = Assert.Throws<PostgresException>(() => command.ExecuteNonQuery());
        });

        var result = await new SyncEngine().SyncAsync(_fixture.Request(path), progress);

        Assert.True(result.ForeignKeysBatched);
        Assert.Equal((SyncStatus.Succeeded, 1L), (result.Status, result.Inserted));
        Assert.Equal(PostgresErrorCodes.LockNotAvailable, refused?.SqlState);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM {Child} AS c JOIN {Parent} AS p ON p.id = c.parent_id WHERE c.id = 14"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_role_that_may_not_read_a_table_referring_to_a_synced_one_gets_postgresql_s_own_checks(bool inAnotherSchema)
    {
        var path = await SyncedFamilyAsync();
        var (role, connectionString) = CreateRole();
        // The role may set the parameter, but not read invoice (no SELECT, or SELECT in a schema it may not use), which
        // PostgreSQL's own check reads as its owner.
        var schema = inAnotherSchema ? _fixture.Schema + "_private" : _fixture.Schema;
        try
        {
            _fixture.PgExecute($"""
                GRANT SET ON PARAMETER session_replication_role TO {role};
                CREATE SCHEMA IF NOT EXISTS "{schema}";
                CREATE TABLE "{schema}".invoice (id int PRIMARY KEY, parent_id bigint REFERENCES {Parent} (id));
                INSERT INTO "{schema}".invoice VALUES (1, 3);
                {(inAnotherSchema ? $"GRANT SELECT, UPDATE ON \"{schema}\".invoice TO {role};" : "")}
                """);
            SyncFixture.Execute(path, "DELETE FROM child WHERE id IN (10, 11); DELETE FROM parent WHERE id = 1;");

            var result = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, Schema = _fixture.Schema, ConnectionString = connectionString });

            Assert.Equal((SyncStatus.Succeeded, 3L), (result.Status, result.Deleted));
            Assert.False(result.ForeignKeysBatched);
            TableComparer.AssertIdentical(path, _fixture.Schema);
        }
        finally
        {
            _fixture.PgExecute($"DROP OWNED BY {role}; DROP ROLE IF EXISTS {role}");
            if (inAnotherSchema)
            {
                _fixture.PgExecute($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            }
        }
    }

    /// <summary>A login role that may use the dbsync tables and the test's schema, and nothing more.</summary>
    private (string Role, string ConnectionString) CreateRole()
    {
        var role = "dbsync_fk_" + Guid.NewGuid().ToString("N")[..8];
        var password = "pw-" + Guid.NewGuid().ToString("N");
        _fixture.PgExecute($"""
            CREATE ROLE {role} LOGIN PASSWORD '{password}';
            GRANT USAGE ON SCHEMA dbsync TO {role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dbsync TO {role};
            GRANT USAGE ON ALL SEQUENCES IN SCHEMA dbsync TO {role};
            GRANT USAGE, CREATE ON SCHEMA "{_fixture.Schema}" TO {role};
            GRANT SELECT, INSERT, UPDATE, DELETE, REFERENCES ON ALL TABLES IN SCHEMA "{_fixture.Schema}" TO {role};
            GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "{_fixture.Schema}" TO {role};
            """);
        return (role, new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Username = role, Password = password, Pooling = false }.ConnectionString);
    }

    [Fact]
    public async Task A_role_that_may_not_silence_the_triggers_gets_postgresql_s_own_checks_with_the_same_outcome()
    {
        var path = await SyncedFamilyAsync();
        var (role, connectionString) = CreateRole();
        try
        {
            SyncFixture.Execute(path, "PRAGMA foreign_keys = OFF; INSERT INTO parent VALUES (4, 'four'); INSERT INTO child VALUES (14, 4, 'd'), (15, 98, 'orphan'); DELETE FROM parent WHERE id = 2;");
            var request = new SyncRequest { Path = path, Schema = _fixture.Schema, ConnectionString = connectionString };

            var result = await new SyncEngine().SyncAsync(request);

            Assert.False(result.ForeignKeysBatched);
            Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 2L), (result.Status, result.Inserted, result.Quarantined));
            var held = await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path });
            Assert.Equal(["child (id=15)", "parent (id=2)"], held.Select(h => $"{h.Table} {h.Key}").Order(StringComparer.Ordinal));
            Assert.Equal("1 2 3 4", _fixture.PgText($"SELECT string_agg(id::text, ' ' ORDER BY id) FROM {Parent}"));

            // The preflight check says so, with the grant that lets the role's pushes check the keys themselves.
            var test = new ConnectionTestRequest { Path = path, ConnectionString = request.ConnectionString, Schema = _fixture.Schema };
            var check = (await new SyncEngine().TestAsync(test)).Single(c => c.Name == "Target.ForeignKeyChecks");
            Assert.Equal((CheckStatus.Warning, "child"), (check.Status, check.Target));
            Assert.StartsWith("GRANT SET ON PARAMETER session_replication_role TO", check.Fix, StringComparison.Ordinal);
            _fixture.PgExecute(check.Fix!.Replace("(as a superuser)", "", StringComparison.Ordinal));
            Assert.Equal(CheckStatus.Pass, (await new SyncEngine().TestAsync(test)).Single(c => c.Name == "Target.ForeignKeyChecks").Status);

            // Healed (a run while rows are held is careful, with PostgreSQL's checks), then a push of the granted role.
            SyncFixture.Execute(path, "UPDATE child SET parent_id = 4 WHERE id = 15; DELETE FROM child WHERE id = 12;");
            Assert.Equal(SyncStatus.Succeeded, (await new SyncEngine().SyncAsync(request)).Status);
            SyncFixture.Execute(path, "INSERT INTO child VALUES (16, 4, 'e');");
            var granted = await new SyncEngine().SyncAsync(request);
            Assert.True(granted.ForeignKeysBatched);
            Assert.Equal((SyncStatus.Succeeded, 1L), (granted.Status, granted.Inserted));
            TableComparer.AssertIdentical(path, _fixture.Schema);
        }
        finally
        {
            _fixture.PgExecute($"DROP OWNED BY {role}; DROP ROLE IF EXISTS {role}");
        }
    }
}
