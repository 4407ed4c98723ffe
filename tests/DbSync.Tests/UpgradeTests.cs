using DbSync.Core;
using DbSync.Core.Capture;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// Files whose bookkeeping an earlier DbSync wrote. Their older format is made here with SQL, as those builds left it:
/// the suite never runs an old build.
/// </summary>
public sealed class UpgradeTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static string? SchemaVersionOf(string path)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        return CaptureStore.ReadMeta(sqlite, null, "schema_version");
    }

    private static long LogOf(string path, string table)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var command = sqlite.CreateCommand();
        command.CommandText = "SELECT id FROM _dbsync_tables WHERE name = $n";
        command.Parameters.AddWithValue("$n", table);
        return (long)command.ExecuteScalar()!;
    }

    private static long Scalar(string path, string sql)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var command = sqlite.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task A_version_2_file_is_upgraded_by_the_first_sync_and_read_only_commands_leave_it_as_it_was()
    {
        // Version 2 stayed while the triggers, the column signature and the change log changed, so builds that knew
        // version 2 misread this build's files instead of refusing them (upgrade exploration, F2 to F5): a file this build
        // writes must carry a higher number than any of them knows.
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path, "Genre")).Status);
        SyncFixture.Execute(path, "UPDATE _dbsync_meta SET value = '2' WHERE key = 'schema_version'");
        SyncFixture.Execute(path, "UPDATE Genre SET Name = 'upgraded' WHERE GenreId = 1");
        var before = SyncFixture.Hash(path);

        var status = await new SyncEngine().GetStatusAsync(new StatusRequest { Path = path });
        var log = await new SyncEngine().GetLogAsync(new DbSync.Core.Bookkeeping.LogQuery { Path = path });
        var checks = await new SyncEngine().TestAsync(new ConnectionTestRequest { Path = path });

        Assert.Equal(1, status.PendingChanges);
        Assert.Single(log);
        Assert.All(checks, c => Assert.True(c.Status != CheckStatus.Fail, $"{c.Name}: {c.Message}"));
        Assert.Equal(before, SyncFixture.Hash(path));
        Assert.Equal("2", SchemaVersionOf(path));

        var sync = await _fixture.SyncAsync(path, "Genre");

        Assert.Equal((SyncStatus.Succeeded, 1L), (sync.Status, sync.Updated));
        Assert.Equal("upgraded", _fixture.PgText($"SELECT name FROM \"{_fixture.Schema}\".genre WHERE genreid = 1"));
        Assert.Equal("3", SchemaVersionOf(path));
        Assert.Equal(CaptureStore.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), SchemaVersionOf(path));
    }

    [Fact]
    public async Task A_version_1_file_whose_change_log_has_no_at_column_is_upgraded_and_its_pending_changes_pushed()
    {
        // The first builds (schema version 1) made change logs (seq, op, k1) without `at`: status, sync and enable of such
        // a file failed with SQLite's "no such column: at", and only disable --force, which discards the pending changes,
        // got out (upgrade exploration, F6).
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path, "Genre")).Status);
        var log = "_dbsync_log_" + LogOf(path, "Genre");
        SyncFixture.Execute(path, $"""
            UPDATE _dbsync_meta SET value = '1' WHERE key = 'schema_version';
            DROP TABLE _dbsync_held;
            DROP TABLE {log};
            CREATE TABLE {log} (seq INTEGER PRIMARY KEY, op INTEGER NOT NULL, k1);
            UPDATE Genre SET Name = 'from version 1' WHERE GenreId = 2;
            INSERT INTO Genre (GenreId, Name) VALUES (26, 'new in version 1');
            """);
        Assert.Equal(2, Scalar(path, $"SELECT count(*) FROM {log}"));
        var before = SyncFixture.Hash(path);

        var status = await new SyncEngine().GetStatusAsync(new StatusRequest { Path = path });

        Assert.Equal(2, status.PendingChanges);
        Assert.Equal(before, SyncFixture.Hash(path));

        var sync = await _fixture.SyncAsync(path, "Genre");

        Assert.Equal((SyncStatus.Succeeded, 1L, 1L), (sync.Status, sync.Inserted, sync.Updated));
        Assert.Equal("from version 1", _fixture.PgText($"SELECT name FROM \"{_fixture.Schema}\".genre WHERE genreid = 2"));
        Assert.Equal("new in version 1", _fixture.PgText($"SELECT name FROM \"{_fixture.Schema}\".genre WHERE genreid = 26"));
        Assert.Equal("3", SchemaVersionOf(path));
        // The log has its current form again: a change made now is timed and pushed.
        Assert.Equal(2, Scalar(path, $"SELECT count(*) FROM pragma_table_info('{log}') WHERE name IN ('at', 'entry')"));
        SyncFixture.Execute(path, "UPDATE Genre SET Name = 'after' WHERE GenreId = 3");
        Assert.Equal(1, Scalar(path, $"SELECT count(*) FROM {log} WHERE at IS NOT NULL"));
        var after = await _fixture.SyncAsync(path, "Genre");
        Assert.Equal((SyncStatus.Succeeded, 1L), (after.Status, after.Updated));
        Assert.Equal("after", _fixture.PgText($"SELECT name FROM \"{_fixture.Schema}\".genre WHERE genreid = 3"));
    }

    [Fact]
    public void A_build_made_in_a_git_clone_names_its_commit_in_its_version()
    {
        // Every build called itself 0.1.0, so neither --version nor the run log told builds apart (upgrade exploration,
        // F5). Built outside a git clone the version is the product version alone.
        var inGit = Directory.Exists(Path.Combine(TestServer.RepoRoot, ".git")) || File.Exists(Path.Combine(TestServer.RepoRoot, ".git"));
        Assert.Matches(inGit ? @"^\d+\.\d+\.\d+\+[0-9a-f]{7}$" : @"^\d+\.\d+\.\d+$", SyncEngine.Version);
        Assert.StartsWith(typeof(SyncEngine).Assembly.GetName().Version!.ToString(3), SyncEngine.Version, StringComparison.Ordinal);
    }
}
