using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Core.Target;
using DbSync.Tests.Infrastructure;
using Npgsql;

namespace DbSync.Tests;

/// <summary>
/// Text encodings (docs/type-mapping.md): a PostgreSQL database not in UTF8 lacks most characters, and a value with
/// one it lacks is refused by name and held back like any value PostgreSQL cannot hold, while the rest is synced.
/// </summary>
public sealed class EncodingTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly SyncEngine _engine = new();

    public void Dispose() => _fixture.Dispose();

    /// <summary>A database of its own in <paramref name="encoding"/>, dropped at the end.</summary>
    private async Task InDatabaseAsync(string encoding, Func<string, Task> test)
    {
        var database = "dbsync_enc_" + Guid.NewGuid().ToString("N")[..8];
        _fixture.PgExecute($"CREATE DATABASE {database} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        try
        {
            await test(new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Database = database, Pooling = false }.ConnectionString);
        }
        finally
        {
            _fixture.PgExecute($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        }
    }

    private static List<(long Id, string? Value)> Rows(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        using var reader = command.ExecuteReader();
        var rows = new List<(long, string?)>();
        while (reader.Read())
        {
            rows.Add((reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
        }

        return rows;
    }

    [Fact]
    public Task Text_a_LATIN1_database_lacks_is_held_back_by_name_on_the_first_load_and_on_pushes_while_the_rest_commits() => InDatabaseAsync("LATIN1", async connectionString =>
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE z (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO z VALUES (1, 'plain'), (2, 'café'), (3, 'emoji 🎉'), (4, 'ÿ€');
            CREATE TABLE y (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO y VALUES (1, 'ok');
            CREATE TABLE k (k TEXT PRIMARY KEY, n INTEGER);
            INSERT INTO k VALUES ('é', 1), ('x🎉''', 2);
            CREATE TABLE m (id INTEGER PRIMARY KEY, n INTEGER);
            INSERT INTO m VALUES (1, 5), (2, 'Ω5');
            """);
        var request = new SyncRequest { Path = path, ConnectionString = connectionString, Schema = _fixture.Schema };
        var test = await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = connectionString, Schema = _fixture.Schema });
        var encoding = test.Single(c => c.Name == "Target.Encoding");
        Assert.Equal(CheckStatus.Warning, encoding.Status);
        Assert.Contains("LATIN1", encoding.Message, StringComparison.Ordinal);
        Assert.Contains("held back", encoding.Message, StringComparison.Ordinal);

        // The first load: every table is created and loaded but for the rows with a character LATIN1 lacks.
        var result = await _engine.SyncAsync(request);
        Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
        Assert.Equal((5L, 4L), (result.Inserted, result.Quarantined));
        Assert.Empty(result.Warnings);
        Assert.Equal([(1L, "plain"), (2L, "café")], Rows(connectionString, $"SELECT id, v FROM \"{_fixture.Schema}\".z ORDER BY id"));
        Assert.Equal([(1L, "é")], Rows(connectionString, $"SELECT n, k FROM \"{_fixture.Schema}\".k ORDER BY n"));
        Assert.Equal([(1L, "5")], Rows(connectionString, $"SELECT id, n::text FROM \"{_fixture.Schema}\".m ORDER BY id"));
        var held = (await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path })).OrderBy(h => h.Table).ThenBy(h => h.Key).ToList();
        Assert.Equal([("k", "(k=x🎉')"), ("m", "(id=2)"), ("z", "(id=3)"), ("z", "(id=4)")], held.Select(h => (h.Table, h.Key)));
        Assert.Contains("column 'v', row (id=3): the text has the character U+1F389, which the PostgreSQL database's encoding LATIN1 does not have", held[2].Reason, StringComparison.Ordinal);
        Assert.Contains("U+20AC", held[3].Reason, StringComparison.Ordinal);
        Assert.Contains("column 'k', row (k=x🎉')", held[0].Reason, StringComparison.Ordinal);
        // A reason quoting the value keeps it as it is, though the staged row in PostgreSQL could not.
        Assert.Contains("the text 'Ω5' is not an integer", held[1].Reason, StringComparison.Ordinal);

        // A push: the other changes go, the new value PostgreSQL cannot hold is held back, a fixed one heals.
        SyncFixture.Execute(path, """
            UPDATE z SET v = 'plain2' WHERE id = 1;
            UPDATE z SET v = 'fixed' WHERE id = 3;
            INSERT INTO z VALUES (5, 'Ωmega');
            INSERT INTO y VALUES (2, 'ok2');
            UPDATE k SET n = 3 WHERE k = 'é';
            DELETE FROM k WHERE n = 2;
            """);
        result = await _engine.SyncAsync(request);
        Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
        Assert.Equal((2L, 2L, 0L, 3L), (result.Inserted, result.Updated, result.Deleted, result.Quarantined));
        Assert.Empty(result.Warnings);
        Assert.Equal([(1L, "plain2"), (2L, "café"), (3L, "fixed")], Rows(connectionString, $"SELECT id, v FROM \"{_fixture.Schema}\".z ORDER BY id"));
        Assert.Equal([(1L, "ok"), (2L, "ok2")], Rows(connectionString, $"SELECT id, v FROM \"{_fixture.Schema}\".y ORDER BY id"));
        Assert.Equal([(3L, "é")], Rows(connectionString, $"SELECT n, k FROM \"{_fixture.Schema}\".k ORDER BY n"));
        held = (await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path })).OrderBy(h => h.Table).ThenBy(h => h.Key).ToList();
        // The key PostgreSQL never had is deleted in the file: nothing to delete there, and its held row is settled.
        Assert.Equal([("m", "(id=2)"), ("z", "(id=4)"), ("z", "(id=5)")], held.Select(h => (h.Table, h.Key)));
        // Both runs are in PostgreSQL's run log too.
        Assert.Equal([(2L, "PartiallySucceeded")], Rows(connectionString, "SELECT count(*), min(status) FROM dbsync.runs"));
    });

    [Fact]
    public Task A_database_in_an_encoding_DbSync_cannot_check_is_refused_before_anything_is_written() => InDatabaseAsync("EUC_JP", async connectionString =>
    {
        var path = _fixture.CreateDatabase("CREATE TABLE z (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO z VALUES (1, 'plain');");

        var test = await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = connectionString, Schema = _fixture.Schema });
        var encoding = test.Single(c => c.Name == "Target.Encoding");
        Assert.Equal((CheckStatus.Fail, ErrorIds.TargetError), (encoding.Status, encoding.ErrorId));
        Assert.Contains("EUC_JP", encoding.Message, StringComparison.Ordinal);

        var error = await Assert.ThrowsAsync<DbSyncException>(() => _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = connectionString, Schema = _fixture.Schema }));
        Assert.Equal(ErrorIds.TargetError, error.ErrorId);
        Assert.Contains("encoding is EUC_JP", error.Message, StringComparison.Ordinal);
        Assert.Contains("ENCODING 'UTF8'", error.Message, StringComparison.Ordinal);
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"SELECT count(*) FROM pg_namespace WHERE nspname IN ('{_fixture.Schema}', 'dbsync')", connection);
        Assert.Equal(0L, (long)command.ExecuteScalar()!);
    });

    [Fact]
    public Task A_name_a_LATIN1_database_lacks_is_a_clear_error_naming_it_before_anything_is_written() => InDatabaseAsync("LATIN1", async connectionString =>
    {
        // PostgreSQL failed the CREATE TABLE with a bare 22P05 naming nothing (helper-38's note).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE "tåble🎉" (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE plain (id INTEGER PRIMARY KEY, "cöl✓" TEXT);
            CREATE TABLE café (id INTEGER PRIMARY KEY);
            """);
        foreach (var (table, message) in new[] { ("tåble🎉", "Table 'tåble🎉': the name has a character"), ("plain", "Table 'plain', column 'cöl✓': the name has a character") })
        {
            var error = await Assert.ThrowsAsync<DbSyncException>(() => _engine.SyncAsync(new SyncRequest
            {
                Path = path, ConnectionString = connectionString, Schema = _fixture.Schema, Tables = [table, "café"],
            }));
            Assert.Equal(ErrorIds.TargetError, error.ErrorId);
            Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
            Assert.Contains("LATIN1", error.Message, StringComparison.Ordinal);
        }

        // Nothing was written; 'café', which LATIN1 holds, syncs alone.
        Assert.Empty(Rows(connectionString, $"SELECT 1::bigint, relname::text FROM pg_class WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = '{_fixture.Schema}')"));
        Assert.Equal(SyncStatus.Succeeded, (await _engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = connectionString, Schema = _fixture.Schema, Tables = ["café"] })).Status);
    });

    [Fact]
    public Task A_file_path_a_LATIN1_database_lacks_is_recorded_with_those_characters_escaped_and_every_run_succeeds() => InDatabaseAsync("LATIN1", async connectionString =>
    {
        // The path went into dbsync.nodes (and dbsync.runs) as it was: every run failed with a bare 22P05 (review of
        // 8f81d53). It is kept with U+XXXX for what LATIN1 lacks, and compared so on the next run.
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');", "日本-café.sqlite");
        var request = new SyncRequest { Path = path, ConnectionString = connectionString, Schema = _fixture.Schema };

        var first = await _engine.SyncAsync(request);
        SyncFixture.Execute(path, "INSERT INTO t VALUES (2, 'b')");
        var second = await _engine.SyncAsync(request);

        Assert.Equal((SyncStatus.Succeeded, SyncStatus.Succeeded, 1L), (first.Status, second.Status, second.Inserted));
        Assert.True(second.Log.Postgres, second.Log.Error);
        var escaped = path.Replace("日本", "U+65E5U+672C", StringComparison.Ordinal);
        Assert.Equal([(1L, escaped)], Rows(connectionString, "SELECT 1::bigint, path FROM dbsync.nodes"));
        Assert.Equal([(2L, escaped)], Rows(connectionString, "SELECT count(*), min(path) FROM dbsync.runs"));
    });

    [Fact]
    public void The_encoding_tables_are_the_servers_own_conversions()
    {
        // Each byte 0x80..0xFF of each encoding, converted to UTF8 by the server: the character the table says, or an
        // error where the table has none. (The other direction, every character up to U+FFFF, was checked when the
        // tables were made; PostgreSQL's single-byte conversions are one to one.)
        using var connection = TestServer.Open();
        foreach (var (name, table) in ServerEncodingTables.HighHalf)
        {
            for (var b = 0x80; b <= 0xFF; b++)
            {
                using var command = new NpgsqlCommand($"SELECT convert_from(convert(decode('{b:x2}', 'hex'), '{name}', 'UTF8'), 'UTF8')", connection);
                string? converted;
                try
                {
                    converted = (string)command.ExecuteScalar()!;
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UntranslatableCharacter)
                {
                    converted = null;
                }

                Assert.True((table[b - 0x80] == '\0' ? null : table[b - 0x80].ToString()) == converted, $"{name} byte 0x{b:X2}: table U+{(int)table[b - 0x80]:X4}, server {converted}");
            }
        }

        Assert.Null(ServerEncoding.Resolve("UTF8"));
        Assert.Null(ServerEncoding.Resolve("SQL_ASCII"));
        Assert.False(ServerEncoding.IsSupported("EUC_JP"));
        var win1252 = ServerEncoding.Resolve("WIN1252")!;
        Assert.True(win1252.CanHold("€ café"));
        Assert.False(win1252.CanHold("\u0081"));
        Assert.Equal("(1, (char(120, 937)), 'é''', X'00')", win1252.SqliteLiterals("(1, 'xΩ', 'é''', X'00')"));
    }

    [Theory]
    [InlineData("UTF-16le")]
    [InlineData("UTF-16be")]
    public async Task Text_that_is_not_valid_UTF16_in_a_UTF16_file_is_refused_by_name_not_merged_into_another_character(string fileEncoding)
    {
        // Code units in the file's byte order. 'A', a lone high surrogate, 'A' arrived as 'A👁' (U+1F441): SQLite's own
        // UTF-16 to UTF-8 conversion merges a high surrogate with whatever unit follows it.
        string Units(params int[] units) => "CAST(x'" + string.Concat(units.Select(u => fileEncoding == "UTF-16le" ? $"{u & 0xFF:X2}{u >> 8:X2}" : $"{u:X4}")) + "' AS TEXT)";
        var path = _fixture.CreateDatabase($"""
            PRAGMA encoding = '{fileEncoding}';
            CREATE TABLE z (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE k (k TEXT PRIMARY KEY, n INTEGER);
            INSERT INTO z VALUES (1, 'plain é🎉'), (2, {Units(0x41, 0xD83D, 0x41)}), (3, {Units(0xD83D)}), (4, {Units(0x41, 0xDC00, 0x42)});
            INSERT INTO k VALUES ('ké🎉', 1);
            """);
        var request = new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema };

        var result = await _engine.SyncAsync(request);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 3L), (result.Status, result.Inserted, result.Quarantined));
        Assert.Equal([(1L, "plain é🎉")], Rows(TestServer.ConnectionString, $"SELECT id, v FROM \"{_fixture.Schema}\".z ORDER BY id"));
        Assert.Equal([(1L, "ké🎉")], Rows(TestServer.ConnectionString, $"SELECT n, k FROM \"{_fixture.Schema}\".k"));
        var held = (await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path })).OrderBy(h => h.Key).ToList();
        Assert.Equal(["(id=2)", "(id=3)", "(id=4)"], held.Select(h => h.Key));
        Assert.All(held, h => Assert.Contains("column 'v'", h.Reason, StringComparison.Ordinal));
        Assert.All(held, h => Assert.Contains("not valid UTF-16", h.Reason, StringComparison.Ordinal));

        // A push: the same on an insert, while the valid changes go.
        SyncFixture.Execute(path, $"INSERT INTO z VALUES (5, {Units(0x41, 0xD83D, 0x41)}); UPDATE z SET v = 'ünicode 👁' WHERE id = 1; UPDATE z SET v = 'fixed' WHERE id = 2;");
        result = await _engine.SyncAsync(request);
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L, 3L), (result.Status, result.Inserted, result.Updated, result.Quarantined));
        Assert.Equal([(1L, "ünicode 👁"), (2L, "fixed")], Rows(TestServer.ConnectionString, $"SELECT id, v FROM \"{_fixture.Schema}\".z ORDER BY id"));
        Assert.Equal(["(id=3)", "(id=4)", "(id=5)"], (await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path })).Select(h => h.Key).Order());

        // A text key that is not valid UTF-16 is shown by its bytes in the file's own encoding, as SQL that finds it there
        // (it showed the UTF-8 bytes DbSync converted it to, which find nothing in a UTF-16 file).
        SyncFixture.Execute(path, $"INSERT INTO k VALUES ({Units(0x41, 0xD83D)}, 2)");
        await _engine.SyncAsync(request);
        var key = Assert.Single(await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path, Tables = ["k"] })).Key;
        Assert.Equal($"(k={Units(0x41, 0xD83D)})", key);
        using var file = SyncFixture.OpenSqlite(path);
        using var find = file.CreateCommand();
        find.CommandText = $"SELECT n FROM k WHERE k = {key[3..^1]}";
        Assert.Equal(2L, find.ExecuteScalar());
    }

    [Fact]
    public async Task The_test_command_reports_a_UTF8_database_as_holding_every_character()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE z (id INTEGER PRIMARY KEY, v TEXT);");
        var test = await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema });
        var encoding = test.Single(c => c.Name == "Target.Encoding");
        Assert.Equal(CheckStatus.Pass, encoding.Status);
        Assert.Contains("UTF8", encoding.Message, StringComparison.Ordinal);
    }
}
