using System.Globalization;
using DbSync.Core.Bookkeeping;
using DbSync.Core.Capture;
using DbSync.Core.Planning;
using DbSync.Core.Source;
using Microsoft.Data.Sqlite;

namespace DbSync.Core.Conflicts;

/// <summary>
/// Rows held back in the SQLite file, in <c>_dbsync_held</c>: poison rows PostgreSQL rejected and conflicts the Fail
/// policy left pending. A held row keeps its first change-log entry (<c>seq</c>), so it stays pending and every run
/// tries it again; the entry here only says why it did not go.
/// </summary>
public static class HeldRows
{
    /// <summary>Creates the table. Part of the bookkeeping schema (version 2).</summary>
    public const string CreateTableSql = """
        CREATE TABLE IF NOT EXISTS _dbsync_held (
            table_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            key TEXT NOT NULL,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (table_id, seq))
        """;

    /// <summary>The run's held rows, gathered before PostgreSQL commits and recorded after.</summary>
    internal const string RunTableSql = """
        CREATE TEMP TABLE IF NOT EXISTS _dbsync_run_held (
            table_id INTEGER NOT NULL, seq INTEGER, lit TEXT, key TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL);
        DELETE FROM temp._dbsync_run_held;
        """;

    /// <summary>Held rows of a file, by table then key order of holding.</summary>
    public static async Task<IReadOnlyList<QuarantinedRow>> QueryAsync(QuarantineQuery query, CancellationToken cancellationToken)
    {
        var path = SourceDatabase.Validate(query.Path);
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        // Another program's lock is waited for as the caller asked, and a cancel (Ctrl+C, Stop-Job) ends the wait at once.
        using var sqlite = SourceDatabase.OpenCancellable(path, query.BusyTimeout, cancellationToken);
        try
        {
            return Read(sqlite, null, query.Tables);
        }
        catch (SqliteException ex)
        {
            throw SourceDatabase.Translate(ex, path, cancellationToken);
        }
    }

    internal static IReadOnlyList<QuarantinedRow> Read(SqliteConnection sqlite, SqliteTransaction? transaction, IReadOnlyList<string> patterns)
    {
        var rows = new List<QuarantinedRow>();
        if (!RunLog.TableExists(sqlite, "_dbsync_held") || !RunLog.TableExists(sqlite, "_dbsync_tables"))
        {
            return rows;
        }

        using var command = CaptureStore.Command(sqlite, transaction, """
            SELECT t.name, h.key, h.kind, h.reason, h.first_at, h.last_at, h.attempts
            FROM _dbsync_held AS h JOIN _dbsync_tables AS t ON t.id = h.table_id
            ORDER BY t.name, h.seq
            """);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var table = reader.GetString(0);
            if (patterns.Count > 0 && !SyncPlanner.Matches(table, patterns))
            {
                continue;
            }

            rows.Add(new QuarantinedRow
            {
                Table = table, Key = reader.GetString(1),
                Kind = Enum.Parse<HeldKind>(reader.GetString(2)), Reason = reader.GetString(3),
                FirstAt = ParseTime(reader.GetString(4)), LastAt = ParseTime(reader.GetString(5)), Attempts = reader.GetInt64(6),
            });
        }

        return rows;
    }

    /// <summary>The start of the reason of a row PostgreSQL rejected (as opposed to a value DbSync could not convert).</summary>
    internal const string RejectedPrefix = "PostgreSQL rejected the row";

    /// <summary>
    /// The start of the reason of a row PostgreSQL accepted without storing it as sent (a trigger, rule or row-level
    /// security policy skipped or changed it). Not a rejection: careful mode would not find it.
    /// </summary>
    internal const string NotStoredPrefix = "PostgreSQL did not store the row as sent";

    /// <summary>
    /// The start of the reason of a row whose conflict PostgreSQL's version won but whose file refused that version (a
    /// CHECK, UNIQUE or foreign key in the file, a trigger). The run had made the target row this node's before the file
    /// refused; held so, it is a conflict again on every run (<see cref="RefusedKeys"/>), not the node's own row to push over.
    /// </summary>
    internal const string RefusedPrefix = "The file refused PostgreSQL's version of the row";

    /// <summary>Added to the reason of such a row when it is held for another reason too (a run under the Fail policy, say).</summary>
    internal const string RefusedNote = RefusedPrefix + " when it last won this conflict: the row stays a conflict until the conflict is decided otherwise or the file takes that version.";

    /// <summary>
    /// The keys of a table held because the file refused the version the target won (their reason holds
    /// <see cref="RefusedPrefix"/>, at its start or in <see cref="RefusedNote"/>), as SQLite literals in the form of
    /// the staged rows' key literals (quote() of each key column, comma-separated), read from their change-log entries.
    /// </summary>
    internal static string[] RefusedKeys(SqliteConnection sqlite, RegisteredTable registry)
    {
        if (!RunLog.TableExists(sqlite, "_dbsync_held"))
        {
            return [];
        }

        var literals = string.Join(" || ',' || ", Enumerable.Range(1, registry.KeyCount).Select(i => "quote(l.k" + i.ToString(CultureInfo.InvariantCulture) + ")"));
        using var command = CaptureStore.Command(sqlite, null, $"""
            SELECT {literals} FROM _dbsync_held AS h JOIN {Identifiers.Quote(registry.LogTable)} AS l ON l.seq = h.seq
            WHERE h.table_id = $t AND instr(h.reason, $p) > 0
            """);
        command.Parameters.AddWithValue("$t", registry.Id);
        command.Parameters.AddWithValue("$p", RefusedPrefix);
        var keys = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            keys.Add(reader.GetString(0));
        }

        return [.. keys];
    }

    /// <summary>True when a row PostgreSQL rejected is still held: the next run then starts in careful mode at once.</summary>
    internal static bool AnyRejected(SqliteConnection sqlite) =>
        RunLog.TableExists(sqlite, "_dbsync_held") &&
        CaptureStore.Scalar<long>(sqlite, null, $"SELECT EXISTS (SELECT 1 FROM _dbsync_held WHERE reason LIKE '{RejectedPrefix}%')") != 0;

    /// <summary>Rows held per table id (for status).</summary>
    internal static Dictionary<long, long> CountByTable(SqliteConnection sqlite, SqliteTransaction? transaction)
    {
        var counts = new Dictionary<long, long>();
        if (!RunLog.TableExists(sqlite, "_dbsync_held"))
        {
            return counts;
        }

        using var command = CaptureStore.Command(sqlite, transaction, "SELECT table_id, count(*) FROM _dbsync_held GROUP BY table_id");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            counts[reader.GetInt64(0)] = reader.GetInt64(1);
        }

        return counts;
    }

    /// <summary>
    /// After PostgreSQL committed, inside the write transaction that marks a table synced: keeps the change-log entries
    /// of this run's held rows, adds entries for held rows of a full copy (which had none), and brings the table's
    /// held-row records up to date.
    /// </summary>
    /// <returns>The entries added (after the run's snapshot): they are left pending like the held rows' other entries.</returns>
    internal static int Record(SqliteConnection sqlite, SqliteTransaction transaction, RegisteredTable registry, long snapshot)
    {
        var now = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var log = Identifiers.Quote(registry.LogTable);
        var keys = string.Join(", ", Enumerable.Range(1, registry.KeyCount).Select(i => "k" + i.ToString(CultureInfo.InvariantCulture)));
        var id = registry.Id.ToString(CultureInfo.InvariantCulture);

        // A held row of a full copy has no change-log entry yet: give it one (the key exactly as SQLite stores it,
        // from quote()), so it stays pending.
        var fresh = new List<(long RowId, string Lit)>();
        using (var read = CaptureStore.Command(sqlite, transaction, $"SELECT rowid, lit FROM temp._dbsync_run_held WHERE table_id = {id} AND seq IS NULL AND lit IS NOT NULL"))
        using (var reader = read.ExecuteReader())
        {
            while (reader.Read())
            {
                fresh.Add((reader.GetInt64(0), reader.GetString(1)));
            }
        }

        foreach (var (rowId, lit) in fresh)
        {
            CaptureStore.Execute(sqlite, transaction, $"INSERT INTO {log} (op, {keys}) VALUES ({CaptureStore.OpInsert}, {lit})");
            CaptureStore.Execute(sqlite, transaction, $"UPDATE temp._dbsync_run_held SET seq = last_insert_rowid() WHERE rowid = {rowId.ToString(CultureInfo.InvariantCulture)}");
        }

        // Records of rows tried in this run and not held again are settled.
        using (var settle = CaptureStore.Command(sqlite, transaction,
            $"DELETE FROM _dbsync_held WHERE table_id = {id} AND seq <= $s AND seq NOT IN (SELECT seq FROM temp._dbsync_run_held WHERE table_id = {id} AND seq IS NOT NULL)"))
        {
            settle.Parameters.AddWithValue("$s", snapshot);
            settle.ExecuteNonQuery();
        }

        using (var upsert = CaptureStore.Command(sqlite, transaction, $"""
            INSERT INTO _dbsync_held (table_id, seq, key, kind, reason, first_at, last_at, attempts)
            SELECT {id}, seq, key, kind, reason, $now, $now, 1 FROM temp._dbsync_run_held WHERE table_id = {id} AND seq IS NOT NULL
            ON CONFLICT (table_id, seq) DO UPDATE SET key = excluded.key, kind = excluded.kind, reason = excluded.reason,
                last_at = excluded.last_at, attempts = _dbsync_held.attempts + 1
            """))
        {
            upsert.Parameters.AddWithValue("$now", now);
            upsert.ExecuteNonQuery();
        }

        return fresh.Count;
    }

    /// <summary>Forgets every held row (node reset).</summary>
    internal static void Clear(SqliteConnection sqlite, SqliteTransaction transaction) =>
        CaptureStore.Execute(sqlite, transaction, "DELETE FROM _dbsync_held");

    private static DateTime ParseTime(string text) =>
        DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
}
