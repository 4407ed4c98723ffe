using System.Globalization;
using System.Text.Json;
using DbSync.Core;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// Many nodes, one target: fifty SQLite files syncing into the same PostgreSQL tables at the same time, a shared table
/// (the same key from two nodes is the same row) and a node-partitioned one (every node counts from 1).
/// </summary>
public sealed class FleetTests : IDisposable
{
    private const int Nodes = 50;
    private const int SharedRows = 20;
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private SyncRequest Request(string path) => new()
    {
        Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, NodePartitioned = ["reading"],
        LockTimeout = TimeSpan.FromMinutes(2),
    };

    private Task<SyncResult[]> SyncAllAsync(IEnumerable<string> paths) =>
        Task.WhenAll(paths.Select(p => Task.Run(() => new SyncEngine().SyncAsync(Request(p)))));

    [Fact]
    public async Task Fifty_nodes_sync_at_once_with_every_row_present_conflicts_counted_and_no_update_lost()
    {
        var paths = Enumerable.Range(1, Nodes).Select(n => _fixture.CreateDatabase($"""
            CREATE TABLE site (id INTEGER PRIMARY KEY, name TEXT, counter INTEGER);
            WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {SharedRows}) INSERT INTO site SELECT i, 'site ' || i, 0 FROM r;
            CREATE TABLE reading (id INTEGER PRIMARY KEY, value REAL, node INTEGER);
            WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 50) INSERT INTO reading SELECT i, i * 0.5, {n} FROM r;
            """, $"node{n}.sqlite")).ToList();

        // Round 1: every node's first sync at once; the first creates the tables, the others find them.
        var first = await SyncAllAsync(paths);

        Assert.All(first, r => Assert.Equal(SyncStatus.Succeeded, r.Status));
        Assert.Equal(Nodes, first.Select(r => r.NodeId).Distinct().Count());
        Assert.All(first, r => Assert.True(r.Tables.Single(t => t.Name == "reading").NodePartitioned));
        Assert.Equal(0, first.Sum(r => r.Conflicts)); // identical shared rows are no conflict
        Assert.Equal(SharedRows, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".site"));
        Assert.Equal(Nodes * 50, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".reading"));

        // Round 2: every node changes a shared row (two or three nodes per row), adds and deletes its own readings.
        for (var n = 1; n <= Nodes; n++)
        {
            SyncFixture.Execute(paths[n - 1], $"""
                UPDATE site SET counter = {n} WHERE id = {((n - 1) % SharedRows) + 1};
                WITH RECURSIVE r(i) AS (SELECT 51 UNION ALL SELECT i + 1 FROM r WHERE i < 60) INSERT INTO reading SELECT i, i * 0.25, {n} FROM r;
                DELETE FROM reading WHERE id = 1;
                """);
        }

        var second = await SyncAllAsync(paths);

        Assert.All(second, r => Assert.Equal(SyncStatus.Succeeded, r.Status));
        Assert.Equal(Nodes * 59, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".reading"));
        foreach (var (path, result) in paths.Zip(first))
        {
            // Every node's own rows are there, exactly, under its node id.
            var node = result.NodeId;
            var number = int.Parse(Path.GetFileNameWithoutExtension(path)[4..], CultureInfo.InvariantCulture);
            Assert.Equal(59, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".reading WHERE dbsync_node = '{node}' AND node = {number}"));
            Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".reading WHERE dbsync_node = '{node}' AND id = 1"));
        }

        // Every shared row was changed by two or three nodes: all but the first to apply (or all) met a conflict.
        var conflicts = second.Sum(r => r.Conflicts);
        Assert.Equal(conflicts, second.Sum(r => r.ConflictsResolved));
        Assert.InRange(conflicts, Nodes - SharedRows, Nodes);
        var target = $"\"{_fixture.Schema}\".\"site\"";
        Assert.Equal(conflicts, _fixture.PgScalar($"SELECT count(*) FROM dbsync.conflicts WHERE target_table = '{target}'"));

        // No update is lost: each row ends with one of its writers' values, and every other writer's value was
        // overwritten knowingly, kept as the losing version of a conflict.
        for (var id = 1; id <= SharedRows; id++)
        {
            var writers = Enumerable.Range(1, Nodes).Where(n => ((n - 1) % SharedRows) + 1 == id).Select(n => (long)n).ToHashSet();
            var final = _fixture.PgScalar($"SELECT counter FROM {target} WHERE id = {id}");
            Assert.Contains(final, writers);
            var overwritten = _fixture.PgText(
                $"SELECT coalesce(string_agg(target_row->>'counter', ','), '') FROM dbsync.conflicts WHERE target_table = '{target}' AND (key->>'id')::int = {id}")!
                .Split(',', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToHashSet();
            Assert.Subset(overwritten, writers.Except([final]).ToHashSet());
        }
    }

    [Fact]
    public async Task A_run_chosen_as_a_deadlock_victim_is_run_again_and_counts_the_other_writer_s_changes_as_conflicts()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'a'), (2, 'b'), (3, 'c');");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, "UPDATE item SET name = 'local1' WHERE id = 1; UPDATE item SET name = 'local2' WHERE id = 2;");
        var table = $"\"{_fixture.Schema}\".item";

        // Another writer locks row 2, the run locks row 1 and waits for row 2, the writer then wants row 1: a deadlock,
        // which PostgreSQL breaks by failing the run (the writer's own deadlock check is set to wait far longer).
        await using var writer = TestServer.Open();
        await using var transaction = await writer.BeginTransactionAsync();
        await new Npgsql.NpgsqlCommand($"SET LOCAL deadlock_timeout = '60s'; UPDATE {table} SET name = 'other2' WHERE id = 2", writer, transaction).ExecuteNonQueryAsync();
        var sync = Task.Run(() => _fixture.SyncAsync(path));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_fixture.PgScalar($"SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '{table}'::regclass") +
               _fixture.PgScalar("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the run never waited for the writer's row lock");
            await Task.Delay(50);
        }

        await new Npgsql.NpgsqlCommand($"UPDATE {table} SET name = 'other1' WHERE id = 1", writer, transaction).ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        var result = await sync;

        // Run again after the writer committed: both of its changes are now conflicts, resolved for the source.
        Assert.Equal((SyncStatus.Succeeded, 2L, 2L, 2L), (result.Status, result.Conflicts, result.ConflictsResolved, result.Updated));
        Assert.Equal("local1", _fixture.PgText($"SELECT name FROM {table} WHERE id = 1"));
        Assert.Equal("local2", _fixture.PgText($"SELECT name FROM {table} WHERE id = 2"));
    }

    [Fact]
    public async Task A_full_copy_or_a_resync_of_one_node_deletes_only_its_own_rows_that_it_no_longer_has()
    {
        var paths = Enumerable.Range(1, 2).Select(n => _fixture.CreateDatabase($"""
            CREATE TABLE site (id INTEGER PRIMARY KEY, name TEXT);
            INSERT INTO site VALUES ({n}, 'site of node {n}'), ({n + 10}, 'other site of node {n}');
            CREATE TABLE reading (id INTEGER PRIMARY KEY, value REAL);
            INSERT INTO reading VALUES (1, {n}.5), (2, {n}.25), (3, {n}.125);
            """, $"pair{n}.sqlite")).ToList();
        foreach (var path in paths)
        {
            Assert.Equal(SyncStatus.Succeeded, (await new SyncEngine().SyncAsync(Request(path))).Status);
        }

        string Rows(string table) => _fixture.PgText($"SELECT string_agg(k, ' ' ORDER BY k) FROM (SELECT {(table == "reading" ? "dbsync_node || ':' || id" : "id::text")} AS k, * FROM \"{_fixture.Schema}\".{table}) AS x") ?? "";
        var node1 = (await new SyncEngine().SyncAsync(Request(paths[0]))).NodeId;
        var before = (Site: Rows("site"), Reading: Rows("reading"));

        // Node 1 loses rows with no log (its triggers dropped), then is copied whole: only what it wrote itself goes.
        long id;
        using (var sqlite = SyncFixture.OpenSqlite(paths[0]))
        using (var command = sqlite.CreateCommand())
        {
            command.CommandText = "SELECT id FROM _dbsync_tables WHERE name = 'reading'";
            id = (long)command.ExecuteScalar()!;
        }

        SyncFixture.Execute(paths[0], $"DROP TRIGGER _dbsync_{id}_d; DELETE FROM reading WHERE id = 2; ALTER TABLE site ADD COLUMN note TEXT; DELETE FROM site WHERE id = 11;");
        var copied = await new SyncEngine().SyncAsync(Request(paths[0]));

        Assert.Equal(SyncStatus.Succeeded, copied.Status);
        Assert.Equal(["FullCopy", "FullCopy"], copied.Tables.Select(t => t.Mode));
        Assert.Equal(before.Reading.Replace($"{node1}:2 ", "", StringComparison.Ordinal), Rows("reading"));
        Assert.Equal("1 12 2", Rows("site")); // site 11 was logged as deleted; node 2's sites stay

        // A resync of node 1 makes its own rows equal to its file and leaves node 2's alone.
        SyncFixture.Execute(paths[0], "DELETE FROM reading WHERE id = 3; DELETE FROM site WHERE id = 1;");
        var resync = await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = paths[0], ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, NodePartitioned = ["reading"], Resync = true, Tables = ["reading"],
        });
        Assert.Equal(SyncStatus.Succeeded, resync.Status);
        Assert.Equal(3 + 1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".reading"));
        Assert.Equal(3, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".reading WHERE dbsync_node <> '{node1}'"));
    }
}
