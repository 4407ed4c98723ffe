using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// A target table with inheritance children (an administrator's archive, or pre-PostgreSQL-10 partitioning): its
/// primary key does not see the children's rows, so DbSync cannot keep keys unique across the tree and refuses it.
/// </summary>
public sealed class InheritedTargetTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly SyncEngine _engine = new();

    public void Dispose() => _fixture.Dispose();

    private string Table => $"\"{_fixture.Schema}\".t";

    [Fact]
    public async Task A_target_table_with_inheritance_children_is_a_schema_mismatch_before_any_write()
    {
        // An update of a row the DBA had moved into the child inserted a second row with the same key into the parent,
        // counted as an insert, while a delete reached the child; `test` passed (target exploration, F10).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);
            INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        _fixture.PgExecute($"""
            CREATE TABLE "{_fixture.Schema}".t_archive () INHERITS ({Table});
            WITH moved AS (DELETE FROM ONLY {Table} WHERE id IN (1, 2) RETURNING *) INSERT INTO "{_fixture.Schema}".t_archive SELECT * FROM moved;
            """);
        SyncFixture.Execute(path, "UPDATE t SET qty = 100 WHERE id = 1; DELETE FROM t WHERE id = 2; INSERT INTO t VALUES (5, 'e', 50);");

        var error = await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(path));

        Assert.Equal(ErrorIds.SchemaMismatch, error.ErrorId);
        Assert.StartsWith("Table 't': ", error.Message, StringComparison.Ordinal);
        Assert.Contains($"\"{_fixture.Schema}\".\"t_archive\"", error.Message, StringComparison.Ordinal);
        Assert.Equal("1:10 2:20 3:30", _fixture.PgText($"SELECT string_agg(id || ':' || qty, ' ' ORDER BY id) FROM {Table}"));
        Assert.Equal(3, (await _engine.GetStatusAsync(new StatusRequest { Path = path })).PendingChanges);
        var checks = await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema });
        var compatibility = Assert.Single(checks, c => c.Name == "Target.Compatibility");
        Assert.Equal(CheckStatus.Fail, compatibility.Status);
        Assert.Contains("t_archive", compatibility.Message, StringComparison.Ordinal);

        // Once the rows are back and the child no longer inherits, the changes go through as they are.
        _fixture.PgExecute($"""
            INSERT INTO {Table} SELECT * FROM ONLY "{_fixture.Schema}".t_archive;
            DROP TABLE "{_fixture.Schema}".t_archive;
            """);
        var result = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 1L, 1L, 1L), (result.Status, result.Inserted, result.Updated, result.Deleted));
        Assert.Equal("1:100 3:30 5:50", _fixture.PgText($"SELECT string_agg(id || ':' || qty, ' ' ORDER BY id) FROM {Table}"));
    }

    [Fact]
    public async Task A_target_table_that_inherits_from_another_syncs_as_a_table_of_its_own()
    {
        // The child's own primary key serves the upsert; its rows show in the parent, as PostgreSQL means them to.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);
            INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20);
            """);
        _fixture.PgExecute($"""
            CREATE SCHEMA "{_fixture.Schema}";
            CREATE TABLE "{_fixture.Schema}".base (id bigint, name text NOT NULL, qty bigint);
            CREATE TABLE {Table} (PRIMARY KEY (id)) INHERITS ("{_fixture.Schema}".base);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, "UPDATE t SET qty = 11 WHERE id = 1; DELETE FROM t WHERE id = 2; INSERT INTO t VALUES (3, 'c', 30);");

        var push = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L, 1L), (push.Status, push.Inserted, push.Updated, push.Deleted));
        Assert.Equal("1:11 3:30", _fixture.PgText($"SELECT string_agg(id || ':' || qty, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".base"));
    }
}
