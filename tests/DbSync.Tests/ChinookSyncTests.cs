using DbSync.Core;
using DbSync.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace DbSync.Tests;

public sealed class ChinookSyncTests(ITestOutputHelper output) : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task A_run_to_another_target_than_the_last_warns_that_the_changes_it_syncs_will_not_reach_the_other()
    {
        // Pending changes are kept once, not once per target: a run against another schema (a forgotten --schema on
        // quarantine --retry, say) marks them synced, and the usual target silently never gets them.
        var path = _fixture.CopyChinook();
        var other = _fixture.Schema + "_other";
        try
        {
            Assert.Empty((await _fixture.SyncAsync(path, "Genre")).Warnings);
            SyncFixture.Execute(path, "UPDATE Genre SET Name = 'Moved' WHERE GenreId = 1");
            var elsewhere = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = other, Tables = ["Genre"] });

            var warning = Assert.Single(elsewhere.Warnings);
            Assert.Contains($"schema {_fixture.Schema}; this run syncs to ", warning, StringComparison.Ordinal);
            Assert.Contains($"schema {other}.", warning, StringComparison.Ordinal);
            Assert.DoesNotContain(TestServer.Password, warning, StringComparison.Ordinal);
            Assert.Empty((await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = other, Tables = ["Genre"] })).Warnings);
            Assert.Single((await _fixture.SyncAsync(path, "Genre")).Warnings);
        }
        finally
        {
            _fixture.PgExecute($"DROP SCHEMA IF EXISTS \"{other}\" CASCADE");
        }
    }

    [Fact]
    public async Task Initial_load_copies_every_table_with_keys_foreign_keys_and_sequences()
    {
        var path = _fixture.CopyChinook();

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Equal(11, result.Tables.Count);
        Assert.All(result.Tables, t => Assert.Equal("InitialLoad", t.Mode));
        Assert.Equal(TableComparer.Count(path, "Track"), result.Tables.Single(t => t.Name == "Track").Inserted);
        // Parents before children.
        var order = result.Tables.Select(t => t.Name).ToList();
        // What PowerShell shows for an error about a table (CategoryInfo) is its ToString: the name.
        Assert.Equal(order, result.Tables.Select(t => t.ToString()));
        Assert.True(order.IndexOf("Artist") < order.IndexOf("Album") && order.IndexOf("Album") < order.IndexOf("Track") && order.IndexOf("Track") < order.IndexOf("InvoiceLine"));
        TableComparer.AssertIdentical(path, _fixture.Schema);

        Assert.Equal(11, _fixture.PgScalar($"SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = '{_fixture.Schema}' AND contype = 'f'"));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = '{_fixture.Schema}' AND contype = 'f' AND NOT condeferrable"));
        Assert.Equal("timestamp without time zone", PgType("invoice", "invoicedate"));
        Assert.Equal("numeric(10,2)", PgType("invoice", "total"));
        Assert.Equal("bigint", PgType("track", "milliseconds"));
        Assert.Equal("text", PgType("track", "name"));
        // The identity sequence is past the largest key, so an application can insert without naming the key.
        var maxTrack = _fixture.PgScalar($"SELECT max(trackid) FROM \"{_fixture.Schema}\".track");
        Assert.Equal(maxTrack + 1, _fixture.PgScalar($"INSERT INTO \"{_fixture.Schema}\".genre (name) VALUES ('x') RETURNING 0") + _fixture.PgScalar($"SELECT nextval(pg_get_serial_sequence('\"{_fixture.Schema}\".track', 'trackid'))"));
    }

    [Fact]
    public async Task Progress_reports_the_run_phases_in_order_with_the_commit_and_the_bookkeeping_last()
    {
        var path = _fixture.CopyChinook();
        var load = new List<SyncProgress>();
        var loaded = await new SyncEngine().SyncAsync(_fixture.Request(path), new InlineProgress<SyncProgress>(load.Add));

        Assert.Equal(SyncStatus.Succeeded, loaded.Status);
        Assert.Equal((SyncPhase.Preparing, ""), (load[0].Phase, load[0].Table));
        Assert.Equal([SyncPhase.Committing, SyncPhase.Recording], load.TakeLast(2).Select(p => p.Phase));
        Assert.All(load.TakeLast(2), p => Assert.Equal("", p.Table));
        Assert.Equal(loaded.Inserted, load[^2].Rows);
        Assert.Equal([-1, 99, 100], new[] { load[0], load[^2], load[^1] }.Select(p => p.PercentComplete));
        AssertNeverDown(load);
        // Every table copied straight into its target: the reads are the whole run up to the commit.
        Assert.Equal(95, load[^3].PercentComplete);
        Assert.InRange(load.First(p => p is { Table: "Track", Phase: SyncPhase.Copying }).PercentComplete, 1, 94);
        Assert.Contains(load, p => p is { Table: "Track", Phase: SyncPhase.Copying });

        SyncFixture.Execute(path, "UPDATE Track SET Name = Name || '!' WHERE TrackId <= 5; DELETE FROM PlaylistTrack WHERE TrackId = 1; INSERT INTO Genre (Name) VALUES ('Polka')");
        var push = new List<SyncProgress>();
        var pushed = await new SyncEngine().SyncAsync(_fixture.Request(path), new InlineProgress<SyncProgress>(push.Add));

        Assert.Equal(SyncStatus.Succeeded, pushed.Status);
        var phases = push.Select(p => p.Phase).Distinct().ToList();
        // Chinook's foreign keys, checked by the push itself once per key after the writes.
        Assert.True(pushed.ForeignKeysBatched);
        Assert.Equal([SyncPhase.Preparing, SyncPhase.Staging, SyncPhase.Applying, SyncPhase.Checking, SyncPhase.Committing, SyncPhase.Recording], phases);
        Assert.Equal(95, push.Single(p => p.Phase == SyncPhase.Checking).PercentComplete);
        // The applies continue the percentage where the staging left it, rather than starting again from the first table.
        AssertNeverDown(push);
        Assert.InRange(push.Last(p => p.Phase == SyncPhase.Staging).PercentComplete, 1, 94);
        Assert.Equal(pushed.Inserted + pushed.Updated + pushed.Deleted, push[^2].Rows);
        Assert.Equal(5 + 1, pushed.Updated + pushed.Inserted);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    private static void AssertNeverDown(List<SyncProgress> reports)
    {
        var percents = reports.Skip(1).Select(p => p.PercentComplete).ToList();
        Assert.True(percents.SequenceEqual(percents.Order()), "the percentage went down: " + string.Join(", ", percents));
    }

    [Fact]
    public async Task The_percentage_moves_within_a_table_as_its_rows_are_read_and_applied()
    {
        // Two tables of 20,000 rows, one a rowid table and one WITHOUT ROWID (its size is counted, not read off the rowids).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE progress_rowid (id INTEGER PRIMARY KEY, v TEXT);
            CREATE TABLE progress_norowid (id INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
            INSERT INTO progress_rowid SELECT i, 'r' || i FROM n;
            INSERT INTO progress_norowid SELECT id, v FROM progress_rowid;
            """, "progress.sqlite");
        var load = new List<SyncProgress>();
        Assert.Equal(SyncStatus.Succeeded, (await new SyncEngine().SyncAsync(_fixture.Request(path), new InlineProgress<SyncProgress>(load.Add))).Status);

        AssertNeverDown(load);
        // Reported every 8,192 rows read: the first table's rows (progress_norowid, in name order) take the run from 0 to
        // half of 95 %, the second's to 95 %.
        var first = load.Where(p => p.Phase == SyncPhase.Copying && p.TableIndex == 1).ToList();
        Assert.Equal([0, 8192, 16384, 20000], first.Select(p => p.Rows));
        Assert.Equal([0, 19, 38, 47], first.Select(p => p.PercentComplete));
        Assert.Equal([47, 66, 86, 95], load.Where(p => p.Phase == SyncPhase.Copying && p.TableIndex == 2).Select(p => p.PercentComplete));

        SyncFixture.Execute(path, "UPDATE progress_rowid SET v = v || '!' WHERE id <= 12000; UPDATE progress_norowid SET v = v || '!' WHERE id <= 4000");
        var push = new List<SyncProgress>();
        var pushed = await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, BatchSize = 3000,
        }, new InlineProgress<SyncProgress>(push.Add));

        Assert.Equal(16000, pushed.Updated);
        AssertNeverDown(push);
        // 16,000 changes read, then 16,000 applied, each half of the 95 %; progress_norowid's 4,000 come first in both
        // (tables in name order), then progress_rowid's 12,000 by batches of 3,000.
        Assert.Equal(47, push.Last(p => p.Phase == SyncPhase.Staging).PercentComplete);
        Assert.Equal([68, 77, 86, 95], push.Where(p => p is { Phase: SyncPhase.Applying, Table: "progress_rowid" }).Select(p => p.PercentComplete).Distinct());
        Assert.Equal(95, push.Last(p => p.Phase == SyncPhase.Applying).PercentComplete);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task A_push_reports_each_batch_it_applies_with_the_rows_written_so_far()
    {
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        SyncFixture.Execute(path, """
            UPDATE Track SET Name = Name || '!' WHERE TrackId <= 7;
            INSERT INTO Track (Name, MediaTypeId, Milliseconds, UnitPrice) VALUES ('a', 1, 1, 0.99), ('b', 1, 1, 0.99), ('c', 1, 1, 0.99);
            """);
        var progress = new List<SyncProgress>();

        var pushed = await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, BatchSize = 2,
        }, new InlineProgress<SyncProgress>(progress.Add));

        // Two rows a batch: the updates are reported as they are made (2, 4, 6, 7), then the inserts; never backwards.
        var rows = progress.Where(p => p is { Table: "Track", Phase: SyncPhase.Applying }).Select(p => p.Rows).ToList();
        Assert.Equal((7L, 3L), (pushed.Updated, pushed.Inserted));
        Assert.Equal(rows.Order(), rows);
        Assert.Equal(10, rows[^1]);
        Assert.Subset(rows.ToHashSet(), new HashSet<long> { 2, 4, 6, 7 });
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Rows_written_again_with_the_same_values_are_not_counted_as_updated()
    {
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        // INSERT OR REPLACE of the same values is logged as an insert of a row PostgreSQL already has; PlaylistTrack has
        // no column besides its key, so nothing in it can be updated.
        SyncFixture.Execute(path, """
            INSERT OR REPLACE INTO Genre SELECT * FROM Genre WHERE GenreId <= 5;
            INSERT OR REPLACE INTO PlaylistTrack SELECT * FROM PlaylistTrack WHERE PlaylistId = 1 AND TrackId <= 100;
            UPDATE Genre SET Name = 'Changed' WHERE GenreId = 6;
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 0L, 1L, 0L), (result.Status, result.Inserted, result.Updated, result.Deleted));
        Assert.Equal((0L, 1L), (result.Tables.Single(t => t.Name == "Genre").Inserted, result.Tables.Single(t => t.Name == "Genre").Updated));
        Assert.Equal(0, result.Tables.Single(t => t.Name == "PlaylistTrack").Updated);
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, (await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest { Path = path })).PendingChanges);
    }

    [Fact]
    public async Task Random_changes_after_initial_load_make_every_table_identical()
    {
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path);
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);

        using (var sqlite = SyncFixture.OpenSqlite(path))
        {
            for (var round = 0; round < 3; round++)
            {
                using var transaction = sqlite.BeginTransaction();
                SyncFixture.Execute(sqlite, "PRAGMA defer_foreign_keys = ON");
                ApplyRandomChanges(sqlite, transaction, random, 60);
                transaction.Commit();
            }

            // A primary-key change with its children moved along: captured as delete of the old key, upsert of the new.
            SyncFixture.Execute(sqlite, """
                BEGIN; PRAGMA defer_foreign_keys = ON;
                UPDATE Genre SET GenreId = 1000 WHERE GenreId = 25;
                UPDATE Track SET GenreId = 1000 WHERE GenreId = 25;
                COMMIT;
                """);
            // A new parent/child chain, and a whole chain deleted children first.
            SyncFixture.Execute(sqlite, """
                INSERT INTO Artist (ArtistId, Name) VALUES (5000, 'Chain Artist');
                INSERT INTO Album (AlbumId, Title, ArtistId) VALUES (5000, 'Chain Album', 5000);
                INSERT INTO Track (TrackId, Name, AlbumId, MediaTypeId, GenreId, Composer, Milliseconds, Bytes, UnitPrice)
                    VALUES (50000, 'Chain Track', 5000, 1, 1, NULL, 1000, 2000, 0.99);
                INSERT INTO Playlist (PlaylistId, Name) VALUES (5000, 'Chain List');
                INSERT INTO PlaylistTrack (PlaylistId, TrackId) VALUES (5000, 50000);
                DELETE FROM InvoiceLine WHERE InvoiceId = 5;
                DELETE FROM Invoice WHERE InvoiceId = 5;
                """);
        }

        var second = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, second.Status);
        Assert.All(second.Tables, t => Assert.Equal("Push", t.Mode));
        Assert.True(second.Inserted > 0 && second.Updated > 0 && second.Deleted > 0, $"+{second.Inserted} ~{second.Updated} -{second.Deleted}");
        TableComparer.AssertIdentical(path, _fixture.Schema);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".genre WHERE genreid = 25"));

        // Nothing is pending any more: a third run writes nothing.
        var third = await _fixture.SyncAsync(path);
        Assert.Equal((0L, 0L, 0L), (third.Inserted, third.Updated, third.Deleted));
    }

    [Fact]
    public async Task Pending_changes_coalesce_per_row()
    {
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, """
            UPDATE Artist SET Name = 'one' WHERE ArtistId = 1;
            UPDATE Artist SET Name = 'two' WHERE ArtistId = 1;
            UPDATE Artist SET Name = 'three' WHERE ArtistId = 1;
            INSERT INTO Artist (ArtistId, Name) VALUES (9000, 'short-lived');
            DELETE FROM Artist WHERE ArtistId = 9000;
            UPDATE Genre SET Name = Name WHERE GenreId = 1;
            """);

        var result = await _fixture.SyncAsync(path, "Artist", "Genre");

        var artist = result.Tables.Single(t => t.Name == "Artist");
        Assert.Equal((0L, 1L, 0L), (artist.Inserted, artist.Updated, artist.Deleted));
        // An update that changed nothing is not counted: counts are what happened in PostgreSQL.
        Assert.Equal(0, result.Tables.Single(t => t.Name == "Genre").Updated);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".artist WHERE artistid = 1 AND name = 'three'"));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".artist WHERE artistid = 9000"));
    }

    [Fact]
    public async Task Existing_target_rows_go_through_staging_and_upsert_and_resync_makes_the_table_equal()
    {
        var path = _fixture.CopyChinook();
        await _fixture.SyncAsync(path, "Genre");
        // Someone damages the target: a changed row, a deleted row and a foreign row.
        _fixture.PgExecute($"""
            UPDATE "{_fixture.Schema}".genre SET name = 'damaged' WHERE genreid = 1;
            DELETE FROM "{_fixture.Schema}".genre WHERE genreid = 2;
            INSERT INTO "{_fixture.Schema}".genre VALUES (777, 'foreign');
            """);

        // A second file (another node) with the same table loads through the upsert path.
        var other = _fixture.CopyChinook("other.sqlite");
        var load = await _fixture.SyncAsync(other, "Genre");
        var genre = load.Tables.Single();
        Assert.Equal("FullCopy", genre.Mode);
        Assert.Equal((1L, 1L, 0L), (genre.Inserted, genre.Updated, genre.Deleted));
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".genre WHERE genreid = 777"));

        var resync = await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"], Resync = true,
        });
        Assert.Equal("Resync", resync.Tables.Single().Mode);
        Assert.Equal(1, resync.Tables.Single().Deleted);
        TableComparer.AssertIdentical(path, _fixture.Schema, ["Genre"]);
    }

    [Fact]
    public async Task Preserve_case_keeps_names_and_default_lower_cases_them()
    {
        var path = _fixture.CopyChinook();
        await new SyncEngine().SyncAsync(new SyncRequest
        {
            Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["MediaType"], PreserveCase = true,
        });

        Assert.Equal(5, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".\"MediaType\" WHERE \"MediaTypeId\" > 0"));
        TableComparer.AssertIdentical(path, _fixture.Schema, ["MediaType"], lowerCase: false);

        // Existing tables are matched case-insensitively: a default (lower-casing) run finds "MediaType".
        SyncFixture.Execute(path, "INSERT INTO MediaType (MediaTypeId, Name) VALUES (99, 'x')");
        var again = await _fixture.SyncAsync(path, "MediaType");
        Assert.Equal("\"" + _fixture.Schema + "\".\"MediaType\"", again.Tables.Single().Target);
        Assert.Equal(1, again.Inserted);
    }

    private string PgType(string table, string column) =>
        _fixture.PgScalar($"SELECT count(*) FROM information_schema.columns WHERE table_schema = '{_fixture.Schema}'") >= 0
            ? QueryText($"SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = '\"{_fixture.Schema}\".{table}'::regclass AND a.attname = '{column}'")
            : "";

    private static string QueryText(string sql)
    {
        using var connection = TestServer.Open();
        using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return (string)command.ExecuteScalar()!;
    }

    /// <summary>Random inserts, updates and deletes that keep Chinook's foreign keys valid.</summary>
    internal static void ApplyRandomChanges(SqliteConnection sqlite, SqliteTransaction transaction, Random random, int count)
    {
        long Scalar(string sql)
        {
            using var command = sqlite.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            return Convert.ToInt64(command.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
        }

        void Run(string sql, params object[] values)
        {
            using var command = sqlite.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters.AddWithValue("$" + (i + 1), values[i]);
            }

            command.ExecuteNonQuery();
        }

        for (var i = 0; i < count; i++)
        {
            switch (random.Next(8))
            {
                case 0:
                    Run("INSERT INTO Artist (ArtistId, Name) VALUES ((SELECT max(ArtistId) + 1 FROM Artist), $1)", "Artist " + random.Next());
                    break;
                case 1:
                    Run("UPDATE Track SET UnitPrice = $1, Name = Name || '!' WHERE TrackId = $2", Math.Round(random.NextDouble() * 3, 2), random.Next(1, 3504));
                    break;
                case 2:
                    Run("DELETE FROM PlaylistTrack WHERE rowid IN (SELECT rowid FROM PlaylistTrack ORDER BY random() LIMIT 3)");
                    break;
                case 3:
                    var invoice = Scalar("SELECT InvoiceId FROM Invoice ORDER BY random() LIMIT 1");
                    Run("DELETE FROM InvoiceLine WHERE InvoiceId = $1", invoice);
                    Run("DELETE FROM Invoice WHERE InvoiceId = $1", invoice);
                    break;
                case 4:
                    var id = Scalar("SELECT max(InvoiceId) + 1 FROM Invoice");
                    Run("INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, BillingCity, Total) VALUES ($1, $2, $3, 'Oslo', $4)",
                        id, random.Next(1, 60), $"2024-0{random.Next(1, 10)}-1{random.Next(0, 10)} 12:34:56", Math.Round(random.NextDouble() * 20, 2));
                    Run("INSERT INTO InvoiceLine (InvoiceLineId, InvoiceId, TrackId, UnitPrice, Quantity) VALUES ((SELECT max(InvoiceLineId) + 1 FROM InvoiceLine), $1, $2, 0.99, 1)",
                        id, random.Next(1, 3504));
                    break;
                case 5:
                    Run("UPDATE Customer SET Email = $1, Fax = NULL WHERE CustomerId = $2", $"user{random.Next()}@example.org", random.Next(1, 60));
                    break;
                case 6:
                    Run("UPDATE Employee SET ReportsTo = $1 WHERE EmployeeId = 8", random.Next(1, 3));
                    break;
                default:
                    Run("INSERT OR IGNORE INTO PlaylistTrack (PlaylistId, TrackId) VALUES ($1, $2)", random.Next(1, 19), random.Next(1, 3504));
                    break;
            }
        }
    }

    [Fact]
    public async Task A_parent_table_dropped_with_cascade_in_PostgreSQL_comes_back_with_its_childrens_foreign_keys()
    {
        // Schema exploration M3: DROP TABLE artist CASCADE took album's foreign key with it; the next sync created and
        // loaded artist again, but album's key to it was gone for good, and nothing said so.
        var path = _fixture.CopyChinook();
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var keys = $"SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = '\"{_fixture.Schema}\".album'::regclass AND confrelid = '\"{_fixture.Schema}\".artist'::regclass";
        Assert.Equal(1, _fixture.PgScalar(keys));
        _fixture.PgExecute($"DROP TABLE \"{_fixture.Schema}\".artist CASCADE");
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = '\"{_fixture.Schema}\".album'::regclass"));

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, result.Status);
        Assert.Empty(result.Warnings);
        Assert.Equal(1, _fixture.PgScalar(keys));
        Assert.Equal(275, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".artist"));
    }
}
