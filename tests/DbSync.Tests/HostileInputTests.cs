using System.Text.Json;
using DbSync.Core;
using DbSync.Tests.Infrastructure;
using Npgsql;

namespace DbSync.Tests;

/// <summary>
/// Hostile input (docs/hostile-input.md): every case ends in a clear error with a stable id and nothing half-applied,
/// or in a correct sync proven row by row.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static JsonElement Json(string stdout) => JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single()).RootElement;

    private async Task<DbSyncException> SyncFailsAsync(string path, string errorId, params string[] tables)
    {
        var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => _fixture.SyncAsync(path, tables));
        Assert.True(errorId == error.ErrorId, $"expected {errorId}, got {error.ErrorId}: {error.Message}");
        Assert.False(_fixture.SchemaExists(), "a failed run must leave no target schema");
        return error;
    }

    private async Task SyncsIdenticallyAsync(string path, bool lowerCase = true)
    {
        var result = await _fixture.SyncAsync(path);
        Assert.Equal(SyncStatus.Succeeded, result.Status);
        TableComparer.AssertIdentical(path, _fixture.Schema, lowerCase: lowerCase);
    }

    private SyncRequest Request(string path, string? schema = null, bool preserveCase = false) => new()
    {
        Path = path,
        ConnectionString = TestServer.ConnectionString,
        Schema = schema ?? _fixture.Schema,
        PreserveCase = preserveCase,
        LockTimeout = TimeSpan.FromSeconds(60),
    };

    public static TheoryData<string, string> DamagedFiles => new()
    {
        { "corrupted-page", "DbSync.SourceCorrupt" },
        { "header-then-garbage", "DbSync.SourceNotSqlite" },
        { "header-only", "DbSync.SourceNotSqlite" },
    };

    [Theory]
    [MemberData(nameof(DamagedFiles))]
    public async Task A_damaged_file_fails_with_its_error_id_and_never_an_unexpected_exception(string kind, string errorId)
    {
        var path = Path.Combine(_fixture.Directory, kind + ".sqlite");
        switch (kind)
        {
            case "corrupted-page":
                // Overwrite the b-tree page header of Track's root page and the first bytes of its cells: the page
                // type becomes invalid, which SQLite reports as SQLITE_CORRUPT when the table is read.
                File.Copy(SyncFixture.ChinookSource, path);
                long root, pageSize;
                using (var sqlite = SyncFixture.OpenSqlite(path))
                using (var command = sqlite.CreateCommand())
                {
                    command.CommandText = "SELECT rootpage FROM sqlite_master WHERE name = 'Track'";
                    root = (long)command.ExecuteScalar()!;
                    command.CommandText = "PRAGMA page_size";
                    pageSize = (long)command.ExecuteScalar()!;
                }

                using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
                {
                    stream.Position = (root - 1) * pageSize;
                    stream.Write(Enumerable.Repeat((byte)0xA7, 64).ToArray());
                }

                break;
            case "header-then-garbage":
                var random = new Random(42);
                var garbage = new byte[64 * 1024];
                random.NextBytes(garbage);
                "SQLite format 3\0"u8.CopyTo(garbage);
                File.WriteAllBytes(path, garbage);
                break;
            case "header-only":
                File.WriteAllBytes(path, "SQLite format 3\0"u8.ToArray());
                break;
        }

        var before = SyncFixture.Hash(path);

        var (code, stdout, stderr) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--json");

        Assert.True(code == 1, stdout + stderr);
        Assert.Equal(errorId, Json(stdout).GetProperty("errorId").GetString());
        Assert.DoesNotContain("DbSync.Unexpected", stdout + stderr, StringComparison.Ordinal);
        Assert.False(_fixture.SchemaExists());
        if (kind != "corrupted-page")
        {
            Assert.Equal(before, SyncFixture.Hash(path));
        }
    }

    public static TheoryData<string> HostileNames => new()
    {
        "with space",
        "with \"double\" quotes",
        "with 'single' quotes",
        "[bracketed]",
        "`backticked`",
        "semi;colon",
        "select",
        "order",
        "MixedCase",
        "Ünïcødé 🎉",
        "e\u0301\u0308 combining",
        "x\"; DROP TABLE y; --",
        "x'); DROP TABLE y; --",
        "$1 ? %s {0}",
        "back\\slash",
        "tab\tand\nnewline",
        new string('n', 63),
    };

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task A_hostile_table_and_column_name_syncs_correctly_and_runs_no_sql_of_its_own(string name)
    {
        var q = "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var path = _fixture.CreateDatabase($"""
            CREATE TABLE y (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO y VALUES (1, 'survivor');
            CREATE TABLE {q} ({q} TEXT PRIMARY KEY, "{(name.Length > 60 ? "c" : name.Replace("\"", "\"\"", StringComparison.Ordinal) + " 2")}" INTEGER, y INTEGER REFERENCES y (id));
            INSERT INTO {q} VALUES ('a', 1, 1), ('b', 2, NULL), ('c', 3, 1);
            """);

        await SyncsIdenticallyAsync(path);
        SyncFixture.Execute(path, $"UPDATE {q} SET y = NULL WHERE {q} = 'a'; DELETE FROM {q} WHERE {q} = 'b'; INSERT INTO {q} VALUES ('d', 4, 1);");
        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal((1L, 1L, 1L), (result.Inserted, result.Updated, result.Deleted));
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".y WHERE v = 'survivor'"));
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{_fixture.Schema}' AND c.relkind = 'r'"));
    }

    /// <summary>
    /// Column names that are the aliases DbSync's statements give tables, subqueries and their columns: PostgreSQL
    /// resolves a bare name to a column before a table alias, so a whole-row reference written as the bare alias broke
    /// every push of a table with a column named t.
    /// </summary>
    private static readonly string[] AliasNames =
        ["t", "s", "k", "c", "x", "n", "a", "v", "u", "r", "p", "m", "h", "g", "e", "pn", "pc", "cn", "cc", "mx", "seq", "op", "same", "newer",
         "image", "inserted", "found", "missing", "cur", "first_seq", "key", "value"];

    [Theory]
    [InlineData(ConflictPolicy.SourceWins)]
    [InlineData(ConflictPolicy.TargetWins)]
    [InlineData(ConflictPolicy.Newest)]
    [InlineData(ConflictPolicy.Fail)]
    public async Task Columns_named_like_the_aliases_of_dbsync_s_own_statements_load_push_and_resolve_conflicts(ConflictPolicy policy)
    {
        var columns = string.Join(", ", AliasNames.Select(n => $"\"{n}\" TEXT"));
        var values = string.Join(", ", AliasNames.Select(n => $"'{n}'"));
        var path = _fixture.CreateDatabase($"""
            CREATE TABLE w (id INTEGER PRIMARY KEY, {columns}, at TEXT);
            INSERT INTO w VALUES (1, {values}, '2024-01-01'), (2, {values}, '2024-01-01'), (3, {values}, '2024-01-01');
            """);
        await SyncsIdenticallyAsync(path);
        var engine = new SyncEngine();
        var request = new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, ConflictPolicy = policy,
            NewestColumn = policy == ConflictPolicy.Newest ? "at" : null,
        };

        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".w SET t = 'pg', s = 'pg', at = '2024-01-03' WHERE id = 1");
        SyncFixture.Execute(path, $"""
            UPDATE w SET t = 'local', s = 'local', at = '2024-01-02' WHERE id = 1;
            UPDATE w SET t = 'two', "value" = 'two' WHERE id = 2;
            DELETE FROM w WHERE id = 3;
            INSERT INTO w VALUES (4, {values}, '2024-01-02');
            """);
        var result = await engine.SyncAsync(request);

        var fail = policy == ConflictPolicy.Fail;
        Assert.Equal((fail ? SyncStatus.PartiallySucceeded : SyncStatus.Succeeded, 1L, policy == ConflictPolicy.SourceWins ? 2L : 1L, 1L, 1L),
            (result.Status, result.Inserted, result.Updated, result.Deleted, result.Conflicts));
        var record = Assert.Single(await engine.GetConflictsAsync(new ConflictQuery { ConnectionString = TestServer.ConnectionString, Path = path }));
        using (var source = JsonDocument.Parse(record.SourceRow!))
        using (var target = JsonDocument.Parse(record.TargetRow!))
        using (var key = JsonDocument.Parse(record.Key))
        {
            Assert.Equal(("local", "local", "pg", "pg", 1), (source.RootElement.GetProperty("t").GetString(), source.RootElement.GetProperty("s").GetString(),
                target.RootElement.GetProperty("t").GetString(), target.RootElement.GetProperty("s").GetString(), key.RootElement.GetProperty("id").GetInt32()));
            Assert.Equal("k", target.RootElement.GetProperty("k").GetString());
        }

        var winner = policy == ConflictPolicy.SourceWins ? "local" : "pg";
        Assert.Equal(winner, _fixture.PgText($"SELECT t FROM \"{_fixture.Schema}\".w WHERE id = 1"));
        Assert.Equal("two|two|0|4", _fixture.PgText($"SELECT (SELECT t || '|' || \"value\" FROM \"{_fixture.Schema}\".w WHERE id = 2) || '|' || " +
            $"(SELECT count(*) FROM \"{_fixture.Schema}\".w WHERE id = 3) || '|' || (SELECT max(id) FROM \"{_fixture.Schema}\".w)"));
        if (!fail)
        {
            TableComparer.AssertIdentical(path, _fixture.Schema);
        }
    }

    [Fact]
    public async Task A_hostile_schema_name_is_quoted_and_creates_exactly_that_schema()
    {
        var schema = _fixture.Schema + "\"; drop schema public; --";
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');");
        try
        {
            var result = await new SyncEngine().SyncAsync(Request(path, schema: schema));

            Assert.Equal(SyncStatus.Succeeded, result.Status);
            TableComparer.AssertIdentical(path, schema);
            Assert.Equal(1, _fixture.PgScalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"));
        }
        finally
        {
            _fixture.PgExecute($"DROP SCHEMA IF EXISTS \"{schema.Replace("\"", "\"\"", StringComparison.Ordinal)}\" CASCADE");
        }
    }

    [Theory]
    [InlineData("dbsync")]
    [InlineData("DbSync")]
    [InlineData("pg_catalog")]
    [InlineData("information_schema")]
    public async Task A_reserved_schema_is_refused_before_anything_is_written(string schema)
    {
        // A SQLite table named node_txns synced into schema dbsync replaced DbSync's record of every node's transactions.
        var path = _fixture.CreateDatabase("CREATE TABLE node_txns (node_id TEXT, xid INTEGER, PRIMARY KEY (node_id, xid)); INSERT INTO node_txns VALUES ('x', 1);");
        var engine = new SyncEngine();

        foreach (var attempt in new Func<Task>[]
        {
            () => engine.SyncAsync(Request(path, schema: schema)),
            () => engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = schema, Resync = true }),
            () => engine.PlanAsync(Request(path, schema: schema)),
        })
        {
            var error = await Assert.ThrowsAnyAsync<DbSyncException>(attempt);
            Assert.Equal(ErrorIds.UsageError, error.ErrorId);
            Assert.Contains($"'{schema}' is reserved", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, _fixture.PgScalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'dbsync' AND EXISTS (SELECT 1 FROM pg_class WHERE relname = 'node_txns' AND relnamespace = pg_namespace.oid AND relnatts = 2)"));
        var (code, stdout, _) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", schema, "--json");
        Assert.Equal((2, "DbSync.UsageError"), (code, Json(stdout).GetProperty("errorId").GetString()));
    }

    [Fact]
    public async Task A_table_pattern_with_regex_characters_matches_literally()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE \"t(1)+\" (id INTEGER PRIMARY KEY); CREATE TABLE t11 (id INTEGER PRIMARY KEY); INSERT INTO \"t(1)+\" VALUES (1);");

        var result = await _fixture.SyncAsync(path, "t(1)+");

        Assert.Equal(["t(1)+"], result.Tables.Select(t => t.Name));
    }

    [Fact]
    public async Task A_column_name_longer_than_63_bytes_is_refused_before_anything_is_written()
    {
        var longName = new string('c', 64);
        var path = _fixture.CreateDatabase($"CREATE TABLE t (id INTEGER PRIMARY KEY, \"{longName}\" TEXT);");

        var error = await SyncFailsAsync(path, "DbSync.NameTooLong");

        Assert.Contains(longName, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ascii_names_that_differ_only_in_case_cannot_exist_in_sqlite()
    {
        // SQLite folds ASCII case in names itself, so such a collision never reaches DbSync.
        var ex = Assert.ThrowsAny<Microsoft.Data.Sqlite.SqliteException>(() => _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, Name TEXT, NAME TEXT);"));
        Assert.Contains("duplicate column", ex.Message, StringComparison.Ordinal);
        var path = _fixture.CreateDatabase("CREATE TABLE Thing (id INTEGER PRIMARY KEY);", "second.sqlite");
        Assert.ThrowsAny<Microsoft.Data.Sqlite.SqliteException>(() => SyncFixture.Execute(path, "CREATE TABLE THING (id INTEGER PRIMARY KEY)"));
    }

    public static TheoryData<string> NonAsciiCaseCollisions => new()
    {
        "CREATE TABLE t (id INTEGER PRIMARY KEY, \"Ä\" TEXT, \"ä\" TEXT); INSERT INTO t VALUES (1, 'upper', 'lower');",
        "CREATE TABLE \"Äpfel\" (id INTEGER PRIMARY KEY); CREATE TABLE \"äpfel\" (id INTEGER PRIMARY KEY); INSERT INTO \"Äpfel\" VALUES (1);",
    };

    [Theory]
    [MemberData(nameof(NonAsciiCaseCollisions))]
    public async Task Non_ascii_names_that_collide_once_lower_cased_are_a_clear_error_or_sync_with_preserve_case(string sql)
    {
        var path = _fixture.CreateDatabase(sql);

        var error = await SyncFailsAsync(path, "DbSync.SchemaMismatch");
        Assert.Contains("lower-cased", error.Message, StringComparison.Ordinal);
        Assert.Contains("--preserve-case", error.Message, StringComparison.Ordinal);

        var result = await new SyncEngine().SyncAsync(Request(path, preserveCase: true));
        Assert.Equal(SyncStatus.Succeeded, result.Status);
        TableComparer.AssertIdentical(path, _fixture.Schema, lowerCase: false);
    }

    [Fact]
    public async Task Composite_text_and_blob_keys_with_odd_characters_sync_and_push_correctly()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE tk (k TEXT PRIMARY KEY, v INTEGER);
            INSERT INTO tk VALUES ('', 1), (' ', 2), ('a''b"c', 3), ('🎉', 4), ('e' || char(769), 5), ('é', 6), ('line
            break', 7), ('tab	x', 8), ('\', 9), ('%_*?', 10);
            CREATE TABLE bk (k BLOB PRIMARY KEY, v INTEGER);
            INSERT INTO bk VALUES (x'', 1), (x'00', 2), (x'0000', 3), (x'ff00ff', 4), (randomblob(300), 5);
            CREATE TABLE ck (a TEXT NOT NULL, b INTEGER NOT NULL, c BLOB NOT NULL, v TEXT, PRIMARY KEY (a, b, c));
            INSERT INTO ck VALUES ('x', 1, x'01', 'one'), ('x', 2, x'01', 'two'), ('x', 1, x'02', 'three'), ('', -9223372036854775808, x'', 'min');
            CREATE TABLE wr (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;
            INSERT INTO wr VALUES ('Ä', 1), ('ä', 2), ('A', 3), ('a', 4);
            """);

        await SyncsIdenticallyAsync(path);
        SyncFixture.Execute(path, """
            UPDATE tk SET v = v + 100 WHERE k IN ('', 'a''b"c', 'e' || char(769)); DELETE FROM tk WHERE k = 'é';
            UPDATE bk SET v = 20 WHERE k = x'00'; DELETE FROM bk WHERE k = x''; UPDATE bk SET k = x'0001' WHERE k = x'0000';
            UPDATE ck SET v = 'changed' WHERE a = 'x' AND b = 1 AND c = x'02'; UPDATE ck SET b = 3 WHERE b = 2; DELETE FROM ck WHERE a = '';
            DELETE FROM wr WHERE k = 'a'; UPDATE wr SET v = 30 WHERE k = 'A';
            """);
        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    public static TheoryData<string> NullKeys => new()
    {
        "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT); INSERT INTO t VALUES ('a', 'x'), (NULL, 'y');",
        "CREATE TABLE t (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b)); INSERT INTO t VALUES ('a', 1, 'x'), ('a', NULL, 'y');",
    };

    [Theory]
    [MemberData(nameof(NullKeys))]
    public async Task A_null_in_a_primary_key_column_is_held_back_naming_table_column_and_row(string sql)
    {
        // SQLite lets a rowid table hold NULL in a non-INTEGER primary key column (a historical bug it keeps);
        // PostgreSQL keys cannot be NULL.
        var path = _fixture.CreateDatabase(sql);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (result.Status, result.Quarantined));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Contains("Table 't'", held.Reason, StringComparison.Ordinal);
        Assert.Contains("NULL", held.Reason, StringComparison.Ordinal);
        // The rest of the run was written: the reason must not say otherwise.
        Assert.EndsWith("The row is held back until the value or the column type is fixed.", held.Reason, StringComparison.Ordinal);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t WHERE {(sql.Contains("(a TEXT", StringComparison.Ordinal) ? "a" : "k")} IS NULL"));
    }

    [Fact]
    public async Task A_utf16_file_syncs_its_text_exactly_and_holds_back_text_that_is_not_valid_utf16()
    {
        var path = Path.Combine(_fixture.Directory, "utf16.sqlite");
        using (var sqlite = SyncFixture.OpenSqlite(path, create: true))
        {
            // x'410000D8' read as UTF-16le: 'A' and a lone high surrogate, which SQLite stores as it is given.
            SyncFixture.Execute(sqlite, """
                PRAGMA encoding = 'UTF-16le';
                CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
                INSERT INTO t VALUES (1, 'Å ü 😀'), (2, CAST(x'410000D8' AS TEXT)), (3, '');
                """);
        }

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 1L), (result.Status, result.Inserted, result.Quarantined));
        Assert.Contains("UTF-8", Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path })).Reason, StringComparison.Ordinal);
        Assert.Equal("Å ü 😀", _fixture.PgText($"SELECT v FROM \"{_fixture.Schema}\".t WHERE id = 1"));
        Assert.Equal("", _fixture.PgText($"SELECT v FROM \"{_fixture.Schema}\".t WHERE id = 3"));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t WHERE id = 2"));
    }

    [Fact]
    public async Task A_column_named_as_a_postgresql_system_column_or_with_dbsyncs_prefix_skips_only_its_table()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE plain (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO plain VALUES (1, 'a');
            CREATE TABLE versioned (id INTEGER PRIMARY KEY, XMin INTEGER); INSERT INTO versioned VALUES (1, 7);
            CREATE TABLE staged (id INTEGER PRIMARY KEY, _dbsync_op TEXT); INSERT INTO staged VALUES (1, 'x');
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
        Assert.Equal(1, result.Tables.Single(t => t.Name == "plain").Inserted);
        var versioned = result.Tables.Single(t => t.Name == "versioned");
        Assert.Equal((SyncStatus.Failed, "DbSync.ReservedName"), (versioned.Status, versioned.ErrorId));
        Assert.Contains("column 'XMin': 'xmin' is the name of a PostgreSQL system column", versioned.Message, StringComparison.Ordinal);
        Assert.Contains("names beginning with _dbsync_ are reserved", result.Tables.Single(t => t.Name == "staged").Message, StringComparison.Ordinal);

        // The next push goes on for the other tables, every run, rather than failing them all.
        SyncFixture.Execute(path, "UPDATE plain SET v = 'b'; UPDATE staged SET _dbsync_op = 'y'");
        var next = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (next.Status, next.Updated));
        Assert.Equal("b", _fixture.PgText($"SELECT v FROM \"{_fixture.Schema}\".plain"));

        // Preflight names both.
        var names = (await new SyncEngine().TestAsync(new DbSync.Core.Diagnostics.ConnectionTestRequest { Path = path })).Single(c => c.Name == "Source.Names");
        Assert.Equal(DbSync.Core.Diagnostics.CheckStatus.Fail, names.Status);
        Assert.Equal("DbSync.ReservedName", names.ErrorId); // as sync says: the table is skipped (was NameTooLong, which ends a run)
        Assert.Contains("'XMin'", names.Message, StringComparison.Ordinal);
        Assert.Contains("'_dbsync_op'", names.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_changed_rows_that_are_one_postgresql_key_fail_the_run_naming_the_table()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE twins (k PRIMARY KEY, v TEXT); INSERT INTO twins VALUES (1, 'int');");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        // SQLite keeps the integer 1 and the text '1' apart in an untyped column; PostgreSQL's text key cannot.
        SyncFixture.Execute(path, "UPDATE twins SET v = 'int!'; INSERT INTO twins VALUES (2, 'int'), ('2', 'text');");

        var error = await Assert.ThrowsAsync<DbSyncException>(() => _fixture.SyncAsync(path));

        Assert.Equal("DbSync.TargetError", error.ErrorId);
        Assert.StartsWith("Table 'twins': two changed rows have primary keys (k) that SQLite tells apart but PostgreSQL stores as one key", error.Message, StringComparison.Ordinal);
        Assert.Equal("int", _fixture.PgText($"SELECT v FROM \"{_fixture.Schema}\".twins"));
    }

    [Theory]
    [InlineData("k", "1", "'1'")] // untyped: the integer and the text are two keys in SQLite, one text in PostgreSQL
    [InlineData("k DATETIME", "'2024-01-01 08:00:00'", "'2024-01-01T08:00:00Z'")]
    [InlineData("k BOOLEAN", "1", "'true'")]
    public async Task An_update_that_only_respells_a_key_keeps_the_row_in_postgresql(string key, string before, string after)
    {
        var path = _fixture.CreateDatabase($"CREATE TABLE respelled ({key} PRIMARY KEY, v TEXT); INSERT INTO respelled VALUES ({before}, 'x');");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        // Logged as a delete of the old key and an insert of the new one, which PostgreSQL stores as the same key.
        SyncFixture.Execute(path, $"UPDATE respelled SET k = {after}, v = 'y'");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal((0L, 1L), (result.Deleted, result.Inserted + result.Updated));
        Assert.Equal("y", _fixture.PgText($"SELECT string_agg(v, ',') FROM \"{_fixture.Schema}\".respelled"));
        Assert.Equal(0, (await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path })).PendingChanges);

        // A later delete of the row deletes it in PostgreSQL too.
        SyncFixture.Execute(path, "DELETE FROM respelled");
        Assert.Equal(1, (await _fixture.SyncAsync(path)).Deleted);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".respelled"));
    }

    [Theory]
    [InlineData("k TEXT PRIMARY KEY", "'a'")]
    // Not a rowid alias (a quirk SQLite documents): the key can be NULL. Taken for one, the row was seen as deleted.
    [InlineData("k INTEGER PRIMARY KEY DESC", "1")]
    public async Task A_null_key_inserted_after_the_first_sync_is_held_back_and_stays_pending_while_the_rest_commits(string key, string value)
    {
        var path = _fixture.CreateDatabase($"CREATE TABLE t ({key}, v TEXT); INSERT INTO t VALUES ({value}, 'x');");
        await SyncsIdenticallyAsync(path);
        SyncFixture.Execute(path, $"UPDATE t SET v = 'changed' WHERE k = {value}; INSERT INTO t VALUES (NULL, 'y');");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L), (result.Status, result.Quarantined, result.Updated));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".t WHERE v = 'changed'"));
        Assert.Equal("(k=NULL)", Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path })).Key);
        // Giving the row a key heals it.
        SyncFixture.Execute(path, "UPDATE t SET k = 2 WHERE k IS NULL");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_table_without_primary_key_and_a_virtual_table_are_named_in_warnings_and_the_rest_syncs()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE keyed (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO keyed VALUES (1, 'a');
            CREATE TABLE loose (v TEXT); INSERT INTO loose VALUES ('b');
            CREATE VIRTUAL TABLE docs USING fts5(body); INSERT INTO docs VALUES ('hello');
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal(["keyed"], result.Tables.Select(t => t.Name));
        Assert.Contains(result.Warnings, w => w.Contains("'loose'", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.Contains("'docs'", StringComparison.Ordinal));
        TableComparer.AssertIdentical(path, _fixture.Schema, ["keyed"]);
    }

    [Fact]
    public async Task A_role_without_create_permission_gets_PermissionDenied_and_nothing_is_created()
    {
        var role = "dbsync_noperm_" + Guid.NewGuid().ToString("N")[..8];
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var database = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString).Database ?? "postgres";
        _fixture.PgExecute($"CREATE ROLE {role} LOGIN PASSWORD '{password}'; REVOKE CREATE ON DATABASE \"{database}\" FROM PUBLIC; REVOKE CREATE ON DATABASE \"{database}\" FROM {role};");
        try
        {
            var path = _fixture.CopyChinook();
            var connection = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Username = role, Password = password }.ConnectionString;

            var (code, stdout, stderr) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", connection, "--schema", _fixture.Schema, "--table", "Genre", "--json");

            Assert.True(code == 1, stdout + stderr);
            Assert.Equal("DbSync.PermissionDenied", Json(stdout).GetProperty("errorId").GetString());
            Assert.False(_fixture.SchemaExists());
            Assert.DoesNotContain(password, stdout + stderr, StringComparison.Ordinal);

            // A schema that exists but is not the role's: creating the table is refused the same way, and nothing is created in it.
            _fixture.PgExecute($"CREATE SCHEMA \"{_fixture.Schema}\"; GRANT USAGE ON SCHEMA \"{_fixture.Schema}\" TO {role};");
            (code, stdout, stderr) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", connection, "--schema", _fixture.Schema, "--table", "Genre", "--json");
            Assert.True(code == 1, stdout + stderr);
            Assert.Equal("DbSync.PermissionDenied", Json(stdout).GetProperty("errorId").GetString());
            Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{_fixture.Schema}'"));
        }
        finally
        {
            _fixture.PgExecute($"DROP SCHEMA IF EXISTS \"{_fixture.Schema}\" CASCADE; DROP OWNED BY {role}; DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task A_database_that_does_not_exist_fails_with_TargetDatabaseNotFound()
    {
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);
        var connection = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Database = "no_such_db_" + Guid.NewGuid().ToString("N")[..8] }.ConnectionString;

        var (code, stdout, _) = await CliTests.RunCliAsync("sync", "--path", path, "--connection", connection, "--schema", _fixture.Schema, "--json");

        Assert.Equal(1, code);
        Assert.Equal("DbSync.TargetDatabaseNotFound", Json(stdout).GetProperty("errorId").GetString());
        Assert.Equal(before, SyncFixture.Hash(path));
    }

    public static TheoryData<string, string?> ExistingTargets => new()
    {
        // An extra NOT NULL column without a default: every insert would fail, so the run stops first.
        { "CREATE TABLE {0}.t (id bigint PRIMARY KEY, a text, extra integer NOT NULL)", "DbSync.SchemaMismatch" },
        // Extra columns PostgreSQL can fill itself are fine.
        { "CREATE TABLE {0}.t (id bigint PRIMARY KEY, a text, extra integer NOT NULL DEFAULT 7, note text)", null },
        // A column with a type that cannot hold the values.
        { "CREATE TABLE {0}.t (id bigint PRIMARY KEY, a bytea)", "DbSync.SchemaMismatch" },
        // Same name in another case: matched case-insensitively.
        { "CREATE TABLE {0}.\"T\" (\"ID\" bigint PRIMARY KEY, \"A\" text)", null },
    };

    [Theory]
    [MemberData(nameof(ExistingTargets))]
    public async Task An_existing_target_table_is_matched_or_refused_before_any_data_is_written(string ddl, string? errorId)
    {
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, 'x'), (2, NULL);");
        _fixture.PgExecute($"CREATE SCHEMA \"{_fixture.Schema}\"; " + string.Format(System.Globalization.CultureInfo.InvariantCulture, ddl, $"\"{_fixture.Schema}\""));
        var table = ddl.Contains("\"T\"", StringComparison.Ordinal) ? "\"T\"" : "t";

        if (errorId is null)
        {
            var result = await _fixture.SyncAsync(path);
            Assert.Equal(SyncStatus.Succeeded, result.Status);
            Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".{table}"));
            return;
        }

        var error = await Assert.ThrowsAnyAsync<DbSyncException>(() => _fixture.SyncAsync(path));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".{table}"));
    }

    [Fact]
    public async Task A_text_key_with_a_nul_character_is_held_by_name_and_heals_when_the_key_is_changed()
    {
        // PostgreSQL text cannot hold NUL: the refusal's own message and key text (sent to PostgreSQL with the held
        // row) failed the whole run, and so did the delete of the old key once the key was fixed.
        var path = _fixture.CreateDatabase("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT); INSERT INTO t VALUES ('a' || char(0) || 'b', 'x'), ('ok', 'y');");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 1L), (result.Status, result.Quarantined, result.Inserted));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("t", "(k=a\\0b)"), (held.Table, held.Key));
        Assert.Contains("NUL", held.Reason, StringComparison.Ordinal);

        SyncFixture.Execute(path, "UPDATE t SET k = 'ab' WHERE k = 'a' || char(0) || 'b'");
        var healed = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 1L, 0L), (healed.Status, healed.Inserted, healed.Conflicts));
        Assert.Empty(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_key_too_long_for_postgresql_s_index_is_held_back_at_the_first_load_and_in_a_push()
    {
        // PostgreSQL's btree takes at most about 2,700 bytes a key (error 54000): one long URL key failed every run of
        // every table, the first load included, naming no table or row.
        var random = new Random(2);
        string LongUrl() => "https://e.x/?" + new string(Enumerable.Range(0, 9000).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray());
        var path = _fixture.CreateDatabase("CREATE TABLE url (u TEXT PRIMARY KEY, hits INTEGER); CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT);"
            + "INSERT INTO url VALUES ('https://e.x/1', 1), ('https://e.x/2', 2); INSERT INTO other VALUES (1, 'v');");
        void WithLongUrl(string sql)
        {
            using var sqlite = SyncFixture.OpenSqlite(path);
            using var command = sqlite.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$u", LongUrl());
            command.ExecuteNonQuery();
        }

        WithLongUrl("INSERT INTO url VALUES ($u, 99)");

        var first = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 3L), (first.Status, first.Quarantined, first.Inserted));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal("url", held.Table);
        Assert.Contains("54000", held.Reason, StringComparison.Ordinal);

        WithLongUrl("INSERT INTO url VALUES ($u, 98); INSERT INTO url VALUES ('https://e.x/3', 3); UPDATE other SET v = 'changed';");

        var push = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 2L, 1L, 1L), (push.Status, push.Quarantined, push.Inserted, push.Updated));
        Assert.Equal(2, (await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path })).Count);
        Assert.Equal("changed", _fixture.PgText($"SELECT v FROM \"{_fixture.Schema}\".other"));
        Assert.Equal(3, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".url"));
    }

    [Fact]
    public async Task An_orphan_row_is_held_back_with_postgresql_s_foreign_key_error_and_heals_when_its_parent_arrives()
    {
        var path = _fixture.CreateDatabase("""
            PRAGMA foreign_keys = OFF;
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));
            INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 99), (3, 1);
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 3L), (result.Status, result.Quarantined, result.Inserted));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("child", "(id=2)"), (held.Table, held.Key));
        Assert.Contains("23503", held.Reason, StringComparison.Ordinal);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = '\"{_fixture.Schema}\".child'::regclass"));
        SyncFixture.Execute(path, "INSERT INTO parent VALUES (99)");
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_connection_string_given_as_the_path_is_not_found_and_its_password_is_never_repeated()
    {
        var misplaced = "Host=db.example.org;Username=sync;Password=Sekr1t-in-path;Database=inventory";
        var cwd = System.IO.Directory.GetFiles(Environment.CurrentDirectory).Length;

        var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(new SyncRequest { Path = misplaced, ConnectionString = TestServer.ConnectionString }));

        Assert.Equal("DbSync.SourceNotFound", error.ErrorId);
        Assert.DoesNotContain("Sekr1t", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Sekr1t", error.Target ?? "", StringComparison.Ordinal);
        Assert.Contains("Password=***", error.Message, StringComparison.Ordinal);
        Assert.Equal(cwd, System.IO.Directory.GetFiles(Environment.CurrentDirectory).Length); // no backup named after it
    }

    [Fact]
    public async Task Sparse_64_bit_keys_in_several_tables_sync_with_a_progress_reporter()
    {
        // Module exploration F1: each table's progress estimate is its rowid range; two tables keyed by random 64-bit ids
        // summed past long.MaxValue, and every run given a progress reporter (Start-DbSync always gives one) failed as
        // DbSync.Unexpected (OverflowException), also on -Resync and every -Continuous retry.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL);
            INSERT INTO notes VALUES (-9223372036854775807, 'lowest'), (1, 'one'), (9223372036854775807, 'highest');
            INSERT INTO orders VALUES (-3, 1.5), (6000000000000000000, 2.5), (9223372036854775806, 3.5);
            """);
        var seen = new List<SyncProgress>();

        var loaded = await new SyncEngine().SyncAsync(_fixture.Request(path), new InlineProgress<SyncProgress>(seen.Add));

        Assert.Equal((SyncStatus.Succeeded, 6L), (loaded.Status, loaded.Inserted));
        SyncFixture.Execute(path, "UPDATE notes SET body = 'changed'; INSERT INTO orders VALUES (-9223372036854775808, 0);");
        var pushed = await new SyncEngine().SyncAsync(_fixture.Request(path), new InlineProgress<SyncProgress>(seen.Add));
        Assert.Equal((SyncStatus.Succeeded, 1L, 3L), (pushed.Status, pushed.Inserted, pushed.Updated));
        var resync = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Resync = true }, new InlineProgress<SyncProgress>(seen.Add));
        Assert.Equal(SyncStatus.Succeeded, resync.Status);
        Assert.All(seen.Where(p => p.PercentComplete >= 0), p => Assert.InRange(p.PercentComplete, 0, 100));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }
}
