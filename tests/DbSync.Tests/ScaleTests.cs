using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>Files at the edges of PostgreSQL's and SQLite's limits (scale exploration): wide tables, many tables, long logs.</summary>
public sealed class ScaleTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static string WideTable(string name, int columns) =>
        $"CREATE TABLE {name} (id INTEGER PRIMARY KEY, {string.Join(", ", Enumerable.Range(1, columns - 1).Select(i => $"c{i} INTEGER"))});";

    [Fact]
    public async Task A_table_wider_than_a_push_can_stage_is_skipped_by_name_and_the_others_sync()
    {
        // 1,590 columns loaded once (a straight COPY), then every push of the whole file failed with PostgreSQL's bare
        // "tables can have at most 1600 columns" (the staging table adds DbSync's own); 1,601 failed the first run so.
        var path = _fixture.CreateDatabase($"""
            {WideTable("wide", 1590)}
            {WideTable("wider", 1601)}
            CREATE TABLE small (id INTEGER PRIMARY KEY, x TEXT);
            INSERT INTO wide (id, c5) VALUES (1, 5); INSERT INTO wider (id) VALUES (1); INSERT INTO small VALUES (1, 'a');
            """);

        var first = await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "UPDATE wide SET c5 = 6; UPDATE small SET x = 'b'");
        var second = await _fixture.SyncAsync(path);

        foreach (var result in new[] { first, second })
        {
            Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
            foreach (var (name, columns) in new[] { ("wide", 1590), ("wider", 1601) })
            {
                var skipped = result.Tables.Single(t => t.Name == name);
                Assert.Equal((SyncStatus.Failed, "DbSync.TableTooWide"), (skipped.Status, skipped.ErrorId));
                Assert.StartsWith($"Table '{name}' has {columns} columns; DbSync syncs tables of at most 1584", skipped.Message, StringComparison.Ordinal);
            }
        }

        Assert.Equal("b", _fixture.PgText($"SELECT x FROM \"{_fixture.Schema}\".small"));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM pg_tables WHERE schemaname = '{_fixture.Schema}' AND tablename LIKE 'wide%'"));

        var checks = await new SyncEngine().TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema });
        var width = Assert.Single(checks, c => c.Name == "Source.Columns");
        Assert.Equal((CheckStatus.Fail, "DbSync.TableTooWide", "wide"), (width.Status, width.ErrorId, width.Target));
        Assert.Contains("Table 'wider' has 1601 columns", width.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_table_as_wide_as_a_push_can_stage_syncs_and_pushes()
    {
        var path = _fixture.CreateDatabase($"{WideTable("wide", 1584)} INSERT INTO wide (id, c5) VALUES (1, 5);");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, "UPDATE wide SET c1583 = 6");
        var push = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 1L), (push.Status, push.Updated));
        Assert.Equal(6, _fixture.PgScalar($"SELECT c1583 FROM \"{_fixture.Schema}\".wide"));
    }

    [Fact]
    public async Task A_row_too_big_for_a_postgresql_page_is_held_back_by_name_and_the_rest_commits()
    {
        // 1,100 INTEGER columns all set make a bigint row of 8,8xx bytes, more than PostgreSQL's page holds: the whole run
        // failed with a bare "54000: row is too big", naming no table or row, on every run; the small table never synced.
        var values = string.Join(", ", Enumerable.Range(1, 1099).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var path = _fixture.CreateDatabase($"""
            {WideTable("wide", 1100)}
            CREATE TABLE small (id INTEGER PRIMARY KEY, x TEXT);
            INSERT INTO wide (id, c5) VALUES (1, 5), (2, 6), (4, 8);
            INSERT INTO wide VALUES (3, {values});
            INSERT INTO small VALUES (1, 'a');
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 4L, 1L), (result.Status, result.Inserted, result.Quarantined));
        Assert.Equal("a", _fixture.PgText($"SELECT x FROM \"{_fixture.Schema}\".small"));
        Assert.Equal("1 2 4", _fixture.PgText($"SELECT string_agg(id::text, ' ' ORDER BY id) FROM \"{_fixture.Schema}\".wide"));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("wide", "(id=3)"), (held.Table, held.Key));
        Assert.StartsWith("PostgreSQL rejected the row: 54000: row is too big", held.Reason, StringComparison.Ordinal);

        // The next push holds it again and sends the rest; once the row fits, it goes.
        SyncFixture.Execute(path, "UPDATE small SET x = 'b'; UPDATE wide SET c5 = 7 WHERE id = 2");
        var next = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 1L), (next.Status, next.Updated, next.Quarantined));
        Assert.Equal("b", _fixture.PgText($"SELECT x FROM \"{_fixture.Schema}\".small"));
        SyncFixture.Execute(path, $"UPDATE wide SET {string.Join(", ", Enumerable.Range(1, 600).Select(i => $"c{i} = NULL"))} WHERE id = 3");
        var fixedRow = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 1L), (fixedRow.Status, fixedRow.Inserted));
        Assert.Equal(1099, _fixture.PgScalar($"SELECT c1099 FROM \"{_fixture.Schema}\".wide WHERE id = 3"));
    }

    [Fact]
    public void Listing_the_tables_reads_the_schema_once_however_many_tables()
    {
        // The listing joined sqlite_master to the table-valued pragma_table_list, which SQLite lists again for every
        // table: status took 9.8 s at 2,000 tables. Counted in SQLite's virtual machine steps, not in time: linear grows
        // 4 times for 4 times the tables, quadratic 16 times.
        long Steps(int tables)
        {
            var path = _fixture.CreateDatabase(string.Concat(Enumerable.Range(1, tables).Select(i => $"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT);")), $"tables{tables}.sqlite");
            using var connection = SyncFixture.OpenSqlite(path);
            Assert.Equal(tables, DbSync.Core.Schema.SourceSchemaReader.ReadTables(connection).Count);
            long steps = 0;
            foreach (var sql in DbSync.Core.Schema.SourceSchemaReader.TableListQueries)
            {
                Assert.Equal(0, SQLitePCL.raw.sqlite3_prepare_v2(connection.Handle, sql, out var statement));
                using (statement)
                {
                    while (SQLitePCL.raw.sqlite3_step(statement) == SQLitePCL.raw.SQLITE_ROW)
                    {
                    }

                    steps += SQLitePCL.raw.sqlite3_stmt_status(statement, SQLitePCL.raw.SQLITE_STMTSTATUS_VM_STEP, 0);
                }
            }

            return steps;
        }

        var (small, large) = (Steps(100), Steps(400));
        Assert.True(large < 6 * small, $"100 tables: {small} steps; 400 tables: {large}");
    }

    [Fact]
    public void Shadow_tables_are_left_out_of_the_listing_and_without_rowid_is_read()
    {
        var path = _fixture.CreateDatabase("""
            CREATE VIRTUAL TABLE docs USING fts5(body);
            CREATE TABLE k (code TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
            CREATE TABLE r (id INTEGER PRIMARY KEY);
            """);
        using var connection = SyncFixture.OpenSqlite(path);
        var tables = DbSync.Core.Schema.SourceSchemaReader.ReadTables(connection);
        Assert.Equal("docs k r", string.Join(' ', tables.Select(t => t.Name)));
        Assert.True(tables.Single(t => t.Name == "docs").IsVirtual);
        Assert.Equal((true, false), (tables.Single(t => t.Name == "k").WithoutRowid, tables.Single(t => t.Name == "r").WithoutRowid));
    }

    [Fact]
    public async Task A_delete_held_because_rows_of_its_own_table_refer_to_it_says_so()
    {
        // A tree: row 1's parent is 2. Deleting 2 alone (SQLite does not enforce foreign keys by default) is refused by
        // PostgreSQL; the held delete's reason gave an orphan insert's advice ("It goes once its parent is in PostgreSQL").
        var path = _fixture.CreateDatabase("""
            CREATE TABLE node (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES node (id));
            INSERT INTO node VALUES (2, NULL), (1, 2), (3, NULL);
            """);
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, "PRAGMA foreign_keys = OFF; DELETE FROM node WHERE id IN (2, 3)");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L), (result.Status, result.Deleted, result.Quarantined));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal("(id=2)", held.Key);
        Assert.True(held.Reason.Contains($"Other rows of \"{_fixture.Schema}\".\"node\" still refer to this row", StringComparison.Ordinal), held.Reason);
        Assert.DoesNotContain("once its parent is in PostgreSQL", held.Reason, StringComparison.Ordinal);
    }
}
