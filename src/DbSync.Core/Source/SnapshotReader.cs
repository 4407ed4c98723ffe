using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DbSync.Core.Source;

/// <summary>
/// A read-only connection of its own for a run's bulk reads, holding one read transaction: every table and change
/// log read through it comes from the same committed state of the file. It is opened without SQLite's
/// per-connection mutex (SQLITE_OPEN_NOMUTEX): a run uses it from one thread at a time, and the mutex, taken on
/// every column value, cost about a twelfth of an initial load's time.
/// </summary>
public sealed class SnapshotReader : IDisposable
{
    private readonly sqlite3 _db;
    private bool _inTransaction;

    private SnapshotReader(sqlite3 db) => _db = db;

    /// <summary>The raw connection, for <see cref="SourceRows.Open(sqlite3, string, ValueTuple{string, long}[])"/>.</summary>
    public sqlite3 Handle => _db;

    /// <summary>
    /// Opens <paramref name="fullPath"/> read-only and begins a (deferred) read transaction: its snapshot is taken by
    /// the first read. Waits for locks as the run's own connection does.
    /// </summary>
    public static SnapshotReader Begin(string fullPath, int busyTimeoutSeconds, CancellationToken cancellationToken = default)
    {
        var rc = raw.sqlite3_open_v2(fullPath, out var db, raw.SQLITE_OPEN_READONLY | raw.SQLITE_OPEN_NOMUTEX, null);
        var reader = new SnapshotReader(db);
        try
        {
            SqliteException.ThrowExceptionForRC(rc, db);
            SqliteException.ThrowExceptionForRC(raw.sqlite3_busy_timeout(db, busyTimeoutSeconds * 1000), db);
            SourceDatabase.PollWhileBusy(db, busyTimeoutSeconds, cancellationToken);
            reader.Execute("BEGIN");
            reader._inTransaction = true;
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>The first column of the first row of <paramref name="sql"/> as an integer.</summary>
    public long Scalar(string sql)
    {
        using var rows = SourceRows.Open(_db, sql);
        return rows.Read() ? rows.Int64(0) : throw new InvalidOperationException($"The query returned no row: {sql}");
    }

    /// <summary>Ends the read transaction.</summary>
    public void Commit()
    {
        Execute("COMMIT");
        _inTransaction = false;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_inTransaction)
        {
            _inTransaction = false;
            raw.sqlite3_exec(_db, "ROLLBACK");
        }

        SourceDatabase.Forget(_db);
        _db.Dispose();
    }

    private void Execute(string sql) => SqliteException.ThrowExceptionForRC(raw.sqlite3_exec(_db, sql), _db);
}
