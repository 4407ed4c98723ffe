using System.Globalization;
using System.Text;
using System.Text.Json;
using DbSync.Core.Capture;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace DbSync.Core.Bookkeeping;

/// <summary>Where a run's log entry ended up.</summary>
public sealed class RunLogOutcome
{
    /// <summary>The JSON-lines backup file.</summary>
    public string? BackupPath { get; internal set; }

    /// <summary>The entry is in the backup, flushed to disk.</summary>
    public bool Backup { get; internal set; }

    /// <summary>The entry is in the SQLite file and read back identical.</summary>
    public bool Database { get; internal set; }

    /// <summary>The entry (and any earlier unsent ones) reached <c>dbsync.runs</c> in PostgreSQL.</summary>
    public bool Postgres { get; internal set; }

    /// <summary>What went wrong while logging, if anything.</summary>
    public string? Error { get; internal set; }

    /// <summary>The run's clock: its entries' finish and duration come from it, never from a second read of the wall clock.</summary>
    internal RunClock? Clock { get; set; }

    /// <summary>The path the run's entries record: the file's, with symbolic links resolved as for its lock and backup.</summary>
    internal string? FilePath { get; set; }

    /// <summary>One line: where the entry was written (backup, file, PostgreSQL), and what went wrong, if anything.</summary>
    public override string ToString() =>
        $"backup {YesNo(Backup)}, file {YesNo(Database)}, PostgreSQL {YesNo(Postgres)}{(Error is null ? "" : ": " + Error)}";

    private static string YesNo(bool written) => written ? "yes" : "no";
}

/// <summary>
/// The run log: <c>_dbsync_runs</c> in the SQLite file, a JSON-lines backup beside it (always appended and flushed
/// first, so it survives a locked or damaged database), and <c>dbsync.runs</c> in PostgreSQL.
/// </summary>
public static class RunLog
{
    /// <summary>Environment variable that moves the backup file.</summary>
    public const string LogPathVariable = "DBSYNC_LOG_PATH";

    private const string Columns = "run_id, node_id, path, target, started_at, finished_at, status, inserted, updated, deleted, conflicts, conflicts_resolved, quarantined, duration_ms, tables, error_id, message, version";

    /// <summary>The SQL that creates the table; part of the bookkeeping schema.</summary>
    internal const string CreateTableSql = """
        CREATE TABLE IF NOT EXISTS _dbsync_runs (
            run_id TEXT PRIMARY KEY,
            node_id TEXT,
            path TEXT,
            target TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            inserted INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            deleted INTEGER NOT NULL DEFAULT 0,
            conflicts INTEGER NOT NULL DEFAULT 0,
            conflicts_resolved INTEGER NOT NULL DEFAULT 0,
            quarantined INTEGER NOT NULL DEFAULT 0,
            duration_ms INTEGER NOT NULL DEFAULT 0,
            tables TEXT,
            error_id TEXT,
            message TEXT,
            version TEXT,
            pg_sent INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS _dbsync_runs_started ON _dbsync_runs (started_at);
        """;

    /// <summary>
    /// The backup file: the explicit path, else DBSYNC_LOG_PATH, else <c>FILE-dbsync-log.jsonl</c> beside the database,
    /// with symbolic links resolved as for the run lock: a run through a link and one through its target share it. The
    /// backup's own links are resolved too (a stable name pointing into a log volume): a prune renamed its new file over
    /// the link, which split the backup in two, the old lines left unpruned in the real file and later runs appended to a
    /// new one at the link's name, each with a lock of its own.
    /// </summary>
    public static string? BackupPathFor(string? databasePath, string? explicitPath)
    {
        // A blank explicit path counts as not given, as a blank --connection does: DBSYNC_LOG_PATH then applies.
        var configured = string.IsNullOrWhiteSpace(explicitPath) ? Environment.GetEnvironmentVariable(LogPathVariable) : explicitPath;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            // A device or pipe (/dev/stdout) keeps its name: its link leads to '/proc/PID/fd/pipe:[N]', which names nothing.
            var named = Path.GetFullPath(configured);
            return Watching.FileIdentity.IsSpecial(named) ? named : RunLock.TryRealPath(named);
        }

        // A path carrying a password that names no file is a connection string given as the path: no backup is named
        // after it. A file whose name only looks so ('shop-pwd=2024.sqlite') has its backup like any other: it had none,
        // and its attempts that fail before they start were recorded nowhere.
        if (string.IsNullOrWhiteSpace(databasePath))
        {
            return null;
        }

        var full = Path.GetFullPath(databasePath);
        return Secrets.Redact(full) != full && !File.Exists(full)
            ? null
            : RunLock.TryRealPath(RunLock.TryRealPath(full) + "-dbsync-log.jsonl");
    }

    /// <summary>How long an append or a prune waits while another process holds the backup's lock (a prune of a large backup).</summary>
    private static readonly TimeSpan BackupLockTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The lock file beside a backup, <c>BACKUP.lock</c>: every process that appends to the backup or rewrites it (a prune)
    /// holds it meanwhile, whichever file's runs it logs (DBSYNC_LOG_PATH and --log-path share one backup among files).
    /// </summary>
    public static string BackupLockPathFor(string backupPath) => backupPath + ".lock";

    /// <summary>
    /// Takes the backup's lock, waiting up to <see cref="BackupLockTimeout"/>. A prune writes a new file and renames it
    /// over the backup: a line appended meanwhile to the old file was lost, and two appends could write at the same end.
    /// Null when no lock file can be made or opened there: in a folder no one may write to, no one can prune either (the
    /// new file goes in that folder), so an append goes on without it; and when the backup is a folder, whose append
    /// then fails with its own message.
    /// </summary>
    /// <exception cref="IOException">Another process held the lock for the whole wait.</exception>
    private static FileStream? LockBackup(string backupPath)
    {
        if (Directory.Exists(backupPath))
        {
            return null;
        }

        var path = BackupLockPathFor(backupPath);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive flock() on Unix, also on a file opened only to read (which a lock file
                // another user made can be), and a share-mode lock on Windows. The OS releases it when the process dies.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.None, 1, FileOptions.None);
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or DirectoryNotFoundException)
            {
                return null;
            }
            catch (IOException) when (File.Exists(path) && clock.Elapsed < BackupLockTimeout)
            {
                Thread.Sleep(10);
            }
            catch (IOException ex) when (File.Exists(path))
            {
                throw new IOException($"another process has held its lock '{path}' for {BackupLockTimeout.TotalSeconds:0} s (a prune of a very large backup, or a stuck process)", ex);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>Throws when the backup names a SQLite database or its journal, or a device, pipe or socket, which no append or prune may touch.</summary>
    /// <exception cref="IOException">It does.</exception>
    private static void RefuseNonBackup(string backupPath)
    {
        // /dev/stdout mixed the backup's lines into the JSON a script reads (or failed on a pipe), /dev/null made
        // '/dev/null.lock' as root; neither keeps anything to restore (ops exploration, F9). Asked first: reading a pipe's head
        // to look for SQLite's would wait for ever.
        if (Watching.FileIdentity.IsSpecial(backupPath))
        {
            throw new IOException("it is not a regular file (a device, a pipe or a socket), so it keeps nothing restore-log could bring back, and nothing was written to it; name a file (--log-path, DBSYNC_LOG_PATH)");
        }

        if (Source.SourceDatabase.IsSqliteFile(backupPath))
        {
            throw new IOException("it is a SQLite database (or a database's journal), not a run log backup, and was left as it is; name a file of its own (--log-path, DBSYNC_LOG_PATH)");
        }
    }

    /// <summary>Appends entries to the backup and flushes them to disk, holding the backup's lock.</summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The file or folder is read-only.</exception>
    public static void AppendBackup(string backupPath, IEnumerable<RunLogEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var text = new StringBuilder();
        foreach (var entry in entries)
        {
            text.Append(entry.ToJson()).Append('\n');
        }

        RefuseNonBackup(backupPath);
        using var hold = LockBackup(backupPath);
        using var stream = new FileStream(backupPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        // A last line cut short (a crash or a full disk while it was written) is ended first, so that it stays one
        // damaged line and the entries appended now stay whole.
        if (stream.Length > 0)
        {
            stream.Seek(-1, SeekOrigin.End);
            if (stream.ReadByte() != '\n')
            {
                text.Insert(0, '\n');
            }
        }

        stream.Seek(0, SeekOrigin.End);
        stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Appends to the backup; returns the error instead of throwing.</summary>
    public static string? TryAppendBackup(string? backupPath, params RunLogEntry[] entries)
    {
        if (backupPath is null)
        {
            return "no backup file (no database path was given)";
        }

        try
        {
            AppendBackup(backupPath, entries);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (Directory.Exists(backupPath))
            {
                return $"the backup '{backupPath}' could not be written: it is a folder, and the backup is a file (--log-path or -LogPath names the file)";
            }

            return $"the backup '{backupPath}' could not be written: {ex.Message}";
        }
    }

    /// <summary>
    /// Inside the transaction that records run <paramref name="recordedBy"/>'s commit: fills in the entry of an earlier
    /// run whose changes PostgreSQL committed but the file never recorded (see <see cref="RunLogEntry.Committed"/>). The
    /// file holds that run as Abandoned without a message (its process died after the COMMIT), or as Failed with
    /// DbSync.TargetUnreachable and no counts (the answer to its COMMIT was lost and PostgreSQL could not be asked); such
    /// a Failed entry keeps its status, error and times and gets the counts. Returns the entry written, for the backup,
    /// or null.
    /// </summary>
    internal static RunLogEntry? CompleteCommitted(SqliteConnection sqlite, SqliteTransaction transaction, RunLogEntry committed, Guid recordedBy)
    {
        RunLogEntry? recorded;
        using (var command = CaptureStore.Command(sqlite, transaction, $"SELECT {Columns} FROM _dbsync_runs WHERE run_id = $id"))
        {
            command.Parameters.AddWithValue("$id", committed.RunId.ToString());
            using var reader = command.ExecuteReader();
            // A row that cannot be read (a hand edit) is not one to complete: the run's own entry still records it.
            recorded = reader.Read() && TryReadEntry(reader, out var entry, out _) ? entry : null;
        }

        if (recorded is { Status: RunStatus.Abandoned, Message: null })
        {
            committed.Status = RunStatus.Abandoned;
            committed.FinishedAt = null;
            committed.Message = $"PostgreSQL committed this run's changes (the counts), but its process ended before the file recorded them; run {recordedBy} recorded them.";
            Write(sqlite, transaction, committed);
            return committed;
        }

        if (recorded is { Status: RunStatus.Failed, ErrorId: ErrorIds.TargetUnreachable, Inserted: 0, Updated: 0, Deleted: 0, Conflicts: 0, ConflictsResolved: 0, Quarantined: 0 })
        {
            (recorded.Inserted, recorded.Updated, recorded.Deleted) = (committed.Inserted, committed.Updated, committed.Deleted);
            (recorded.Conflicts, recorded.ConflictsResolved, recorded.Quarantined) = (committed.Conflicts, committed.ConflictsResolved, committed.Quarantined);
            recorded.Tables = committed.Tables;
            recorded.Message = $"{recorded.Message} PostgreSQL had committed it after all (the counts): run {recordedBy} found so and recorded its changes.";
            Write(sqlite, transaction, recorded);
            return recorded;
        }

        return null;
    }

    /// <summary>Writes (inserts or replaces) an entry in the database inside a transaction; it is then due for PostgreSQL.</summary>
    public static void Write(SqliteConnection sqlite, SqliteTransaction transaction, RunLogEntry entry)
    {
        using var writer = new EntryWriter(sqlite, transaction);
        writer.Write(entry);
    }

    /// <summary>One prepared INSERT OR REPLACE reused for many entries (a restore writes 100,000 in one transaction).</summary>
    private sealed class EntryWriter : IDisposable
    {
        private readonly SqliteCommand _command;
        private readonly SqliteParameter[] _parameters;

        public EntryWriter(SqliteConnection sqlite, SqliteTransaction transaction)
        {
            _command = CaptureStore.Command(sqlite, transaction,
                $"INSERT OR REPLACE INTO _dbsync_runs ({Columns}, pg_sent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 0)");
            _parameters = Enumerable.Range(1, 18).Select(i => _command.Parameters.Add("$" + i.ToString(CultureInfo.InvariantCulture), SqliteType.Text)).ToArray();
            _command.Prepare();
        }

        public void Write(RunLogEntry entry)
        {
            ArgumentNullException.ThrowIfNull(entry);
            object?[] values =
            [
                entry.RunId.ToString(), entry.NodeId, entry.Path, entry.Target, Iso(entry.StartedAt), entry.FinishedAt is { } f ? Iso(f) : null,
                entry.Status.ToString(), entry.Inserted, entry.Updated, entry.Deleted, entry.Conflicts, entry.ConflictsResolved, entry.Quarantined,
                entry.DurationMs, JsonSerializer.Serialize(entry.Tables, RunLogEntry.JsonOptions), entry.ErrorId, entry.Message, entry.Version,
            ];
            for (var i = 0; i < values.Length; i++)
            {
                _parameters[i].SqliteType = values[i] is long ? SqliteType.Integer : SqliteType.Text;
                _parameters[i].Value = values[i] ?? DBNull.Value;
            }

            _command.ExecuteNonQuery();
        }

        public void Dispose() => _command.Dispose();
    }

    /// <summary>
    /// Writes an entry to the database in its own transaction, reads it back and compares; retries up to three
    /// times. Returns null on success, else what went wrong (the backup still holds the entry).
    /// </summary>
    public static string? Record(SqliteConnection sqlite, RunLogEntry entry) => Record(sqlite, entry, null);

    /// <summary>
    /// As <see cref="Record(SqliteConnection, RunLogEntry)"/>; with <paramref name="owed"/>, also sets, in the same
    /// transaction, the runs whose final entry the backup still lacks (<see cref="BackupOwedKey"/>).
    /// </summary>
    internal static string? Record(SqliteConnection sqlite, RunLogEntry entry, IReadOnlyCollection<Guid>? owed)
    {
        ArgumentNullException.ThrowIfNull(sqlite);
        ArgumentNullException.ThrowIfNull(entry);
        string? problem = null;
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                using (var transaction = sqlite.BeginTransaction(deferred: false))
                {
                    Write(sqlite, transaction, entry);
                    if (owed is not null)
                    {
                        WriteOwed(sqlite, transaction, owed);
                    }

                    transaction.Commit();
                }

                var back = Read(sqlite, entry.RunId);
                if (back is not null && back.ToJson() == entry.ToJson())
                {
                    return null;
                }

                problem = "the entry read back from the database differs from the one written";
            }
            catch (SqliteException ex)
            {
                problem = ex.Message;
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException or JsonException)
            {
                problem = ex.Message;
            }

            Thread.Sleep(100 * attempt);
        }

        return $"the run log entry could not be written to the database after 3 attempts ({problem})";
    }

    /// <summary>
    /// The file's meta key naming the runs whose final entry could not be appended to the backup (a full disk, say):
    /// run ids separated by spaces, oldest first. The next run whose append succeeds appends their entries, as the
    /// database has them, before its own, so the backup's last word on such a run is not its Running line (from which
    /// restore-log would make it Abandoned) or nothing. At most <see cref="MaxOwed"/> are kept, the newest: a backup
    /// that stays unwritable does not make every run read back an ever longer list.
    /// </summary>
    internal const string BackupOwedKey = "backup_owed";

    internal const int MaxOwed = 1000;

    /// <summary>The runs whose final entry the backup still lacks (see <see cref="BackupOwedKey"/>); empty when unreadable.</summary>
    internal static List<Guid> OwedToBackup(SqliteConnection sqlite, SqliteTransaction? transaction = null)
    {
        try
        {
            return [.. (CaptureStore.ReadMeta(sqlite, transaction, BackupOwedKey) ?? "")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(text => Guid.TryParse(text, out var id) ? id : Guid.Empty)
                .Where(id => id != Guid.Empty)
                .Distinct()];
        }
        catch (SqliteException)
        {
            return [];
        }
    }

    /// <summary>The entries of owed runs that the database still holds; a run pruned since is gone from both, and left out.</summary>
    internal static List<RunLogEntry> ReadOwed(SqliteConnection sqlite, IEnumerable<Guid> owed)
    {
        var entries = new List<RunLogEntry>();
        foreach (var runId in owed)
        {
            try
            {
                if (Read(sqlite, runId) is { } entry)
                {
                    entries.Add(entry);
                }
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException or FormatException or JsonException)
            {
                // An entry that cannot be read cannot be appended either; the others still are.
            }
        }

        return entries;
    }

    /// <summary>Sets the runs the backup still owes (none: the key is removed), in the caller's transaction.</summary>
    internal static void WriteOwed(SqliteConnection sqlite, SqliteTransaction transaction, IReadOnlyCollection<Guid> owed)
    {
        if (owed.Count == 0)
        {
            using var delete = CaptureStore.Command(sqlite, transaction, "DELETE FROM _dbsync_meta WHERE key = $k");
            delete.Parameters.AddWithValue("$k", BackupOwedKey);
            delete.ExecuteNonQuery();
            return;
        }

        CaptureStore.WriteMeta(sqlite, transaction, BackupOwedKey, string.Join(' ', owed.Distinct().TakeLast(MaxOwed)));
    }

    /// <summary>Adds a run to those the backup owes, in a transaction of its own; best effort (a failure leaves the list as it was).</summary>
    internal static void OweBackup(SqliteConnection sqlite, Guid runId)
    {
        try
        {
            using var transaction = sqlite.BeginTransaction(deferred: false);
            WriteOwed(sqlite, transaction, [.. OwedToBackup(sqlite, transaction), runId]);
            transaction.Commit();
        }
        catch (SqliteException)
        {
            // Like any failure to log: the run has committed, and the database entry is there for restore-log's reader.
        }
    }

    /// <summary>Reads one entry, or null.</summary>
    public static RunLogEntry? Read(SqliteConnection sqlite, Guid runId)
    {
        ArgumentNullException.ThrowIfNull(sqlite);
        using var command = CaptureStore.Command(sqlite, null, $"SELECT {Columns} FROM _dbsync_runs WHERE run_id = $id");
        command.Parameters.AddWithValue("$id", runId.ToString());
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadEntry(reader) : null;
    }

    /// <summary>
    /// Runs newest first, filtered. With <paramref name="noRunActive"/>, a run still marked Running is shown as Abandoned.
    /// A row that cannot be read is left out and named in <paramref name="unreadable"/>.
    /// </summary>
    public static IReadOnlyList<RunLogEntry> Query(SqliteConnection sqlite, LogQuery query, bool noRunActive, string? backupPath = null, ICollection<string>? unreadable = null)
    {
        ArgumentNullException.ThrowIfNull(sqlite);
        ArgumentNullException.ThrowIfNull(query);
        if (!TableExists(sqlite, "_dbsync_runs"))
        {
            return [];
        }

        var sql = new StringBuilder($"SELECT {Columns} FROM _dbsync_runs WHERE 1 = 1");
        using var command = sqlite.CreateCommand();
        if (query.Since is { } since)
        {
            sql.Append(" AND started_at >= $since");
            command.Parameters.AddWithValue("$since", Iso(since.ToUniversalTime()));
        }

        // While no run is active, a run still marked Running is shown as its backup shows it ended (a run whose
        // bookkeeping failed after PostgreSQL committed: Failed, with its true counts), else as Abandoned; the next sync
        // records the same. A status filter then applies to the status shown, so those rows are read too and filtered
        // here (a check for a sync in progress must not find a crashed one).
        var filterHere = noRunActive && query.Status is not null;
        if (query.Status is { } status)
        {
            sql.Append(!noRunActive ? " AND status = $status"
                : status == RunStatus.Running ? " AND false"
                : " AND status IN ($status, 'Running')");
            command.Parameters.AddWithValue("$status", status.ToString());
        }

        sql.Append(" ORDER BY started_at DESC, rowid DESC");
        if (query.Last is { } last && !filterHere)
        {
            sql.Append(" LIMIT $last");
            command.Parameters.AddWithValue("$last", last);
        }

        command.CommandText = sql.ToString();
        var entries = new List<RunLogEntry>();
        var left = new HashSet<Guid>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                if (!TryReadEntry(reader, out var entry, out var problem))
                {
                    unreadable?.Add(problem);
                    continue;
                }

                if (noRunActive && entry.Status == RunStatus.Running)
                {
                    entry.Status = RunStatus.Abandoned;
                    left.Add(entry.RunId);
                }

                entries.Add(entry);
            }
        }

        TakeEndsFromBackup(entries, left, backupPath);

        return filterHere
            ? entries.Where(e => e.Status == query.Status).Take(query.Last ?? int.MaxValue).ToList()
            : entries;
    }

    /// <summary>
    /// How final an entry of a run is: Running 0, Abandoned 1, Abandoned with a message (counts a later run filled in,
    /// see <see cref="CompleteCommitted"/>) 2, any status a run ends with 3. Of two entries of one run the more final
    /// one is the truth, whatever their order; of two equally final ones, the later.
    /// </summary>
    internal static int Finality(RunStatus status, bool hasMessage) => status switch
    {
        RunStatus.Running => 0,
        RunStatus.Abandoned => hasMessage ? 2 : 1,
        _ => 3,
    };

    internal static int Finality(RunLogEntry entry) => Finality(entry.Status, entry.Message is not null);

    /// <summary><see cref="Finality(RunStatus, bool)"/> in SQL, of a row of <c>dbsync.runs</c>.</summary>
    private static string FinalitySql(string row) =>
        $"CASE WHEN {row}.status = 'Running' THEN 0 WHEN {row}.status = 'Abandoned' AND {row}.message IS NULL THEN 1 WHEN {row}.status = 'Abandoned' THEN 2 ELSE 3 END";

    /// <summary>
    /// Marks runs left Running by a dead process as Abandoned (the caller holds the run lock) and returns them. A run
    /// whose final entry reached the backup but not the file (a failed write, a kill between the two) is recorded with
    /// that entry instead.
    /// </summary>
    public static IReadOnlyList<RunLogEntry> MarkAbandoned(SqliteConnection sqlite, SqliteTransaction transaction, string? backupPath)
    {
        var abandoned = new List<RunLogEntry>();
        var unreadable = new List<long>();
        // The run whose commit the file recorded last: its entry got its counts in that same transaction (RecordSynced),
        // so its process died after both databases had the run, before it wrote how the run ended.
        var recordedLast = CaptureStore.ReadMeta(sqlite, transaction, Conflicts.NodeIdentity.LastRunKey);
        using (var command = CaptureStore.Command(sqlite, transaction, $"SELECT {Columns}, rowid FROM _dbsync_runs WHERE status = 'Running'"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                if (!TryReadEntry(reader, out var entry, out _))
                {
                    // A row left Running that cannot be read (a hand edit) failed every sync here. No run holds the lock,
                    // so it is not running: only its status changes; the send to dbsync.runs names the row in a warning.
                    unreadable.Add(reader.GetInt64(reader.FieldCount - 1));
                    continue;
                }

                entry.Status = RunStatus.Abandoned;
                if (string.Equals(recordedLast, entry.RunId.ToString(), StringComparison.OrdinalIgnoreCase))
                {
                    entry.Message ??= "PostgreSQL committed this run's changes (the counts) and the file recorded them, but its process ended before it logged how the run ended.";
                }

                abandoned.Add(entry);
            }
        }

        foreach (var rowid in unreadable)
        {
            using var mark = CaptureStore.Command(sqlite, transaction, "UPDATE _dbsync_runs SET status = 'Abandoned' WHERE rowid = $rowid");
            mark.Parameters.AddWithValue("$rowid", rowid);
            mark.ExecuteNonQuery();
        }

        TakeEndsFromBackup(abandoned, abandoned.Select(e => e.RunId).ToHashSet(), backupPath);

        using var writer = new EntryWriter(sqlite, transaction);
        foreach (var entry in abandoned)
        {
            writer.Write(entry);
        }

        return abandoned;
    }

    /// <summary>
    /// Replaces the entry of each of <paramref name="runs"/> (runs left Running) with its backup line when that is more
    /// final: how the run ended when the file could not record it (a crash after the backup was written, a bookkeeping
    /// failure after PostgreSQL committed).
    /// </summary>
    private static void TakeEndsFromBackup(List<RunLogEntry> entries, HashSet<Guid> runs, string? backupPath)
    {
        // The backup is read only when a run was left Running, which is rare: it can be large.
        if (runs.Count == 0 || backupPath is null)
        {
            return;
        }

        var found = MostFinalInBackup(backupPath, runs);
        for (var i = 0; i < entries.Count; i++)
        {
            if (runs.Contains(entries[i].RunId) && found.TryGetValue(entries[i].RunId, out var final) && Finality(final) > Finality(entries[i]))
            {
                entries[i] = final;
            }
        }
    }

    /// <summary>The most final backup line of each of these runs; none when the backup is missing or cannot be read.</summary>
    private static Dictionary<Guid, RunLogEntry> MostFinalInBackup(string backupPath, HashSet<Guid> runs)
    {
        var found = new Dictionary<Guid, RunLogEntry>();
        if (Watching.FileIdentity.IsSpecial(backupPath))
        {
            // A pipe (--log-path /dev/stdout) would be read until whoever writes it closes it: for ever. It holds no lines.
            return found;
        }

        var ids = runs.Select(r => r.ToString()).ToList();
        try
        {
            foreach (var line in File.ReadLines(backupPath, Encoding.UTF8))
            {
                if (ids.Exists(id => line.Contains(id, StringComparison.OrdinalIgnoreCase)) && TryParse(line, out var entry, out _)
                    && runs.Contains(entry.RunId) && (!found.TryGetValue(entry.RunId, out var earlier) || Finality(entry) >= Finality(earlier)))
                {
                    found[entry.RunId] = entry;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Without the backup the runs are Abandoned, as they would have been.
            return new();
        }

        return found;
    }

    /// <summary>How far this machine's clock may be from PostgreSQL's for a prune (beyond the time a query takes).</summary>
    internal static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Why entries must not be pruned now, or null: they go by their age, so a clock set far ahead (a VM booted before NTP,
    /// a wrong RTC) removed the whole log and backup in one run. The run's clock (<paramref name="now"/>, which the cutoff
    /// comes from) is compared with PostgreSQL's; when that cannot be read, nothing is pruned either.
    /// </summary>
    internal static async Task<string?> ClockProblemAsync(NpgsqlConnection pg, Func<DateTime> now, int keepDays)
    {
        ArgumentNullException.ThrowIfNull(pg);
        ArgumentNullException.ThrowIfNull(now);
        DateTime server;
        try
        {
            // Its own timeout: the run's connection may wait for ever (Command Timeout 0), and the run has committed.
            using var command = new NpgsqlCommand("SELECT clock_timestamp()", pg) { CommandTimeout = 30 };
            server = DateTime.SpecifyKind((DateTime)(await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false))!, DateTimeKind.Utc);
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException or InvalidOperationException or InvalidCastException)
        {
            return $"run log entries older than {keepDays} days were not removed: PostgreSQL's clock, against which this machine's is checked first, could not be read ({SyncEngine.OneLine(ex)}); a later run with --keep-days tries again";
        }

        var local = now();
        return (local - server).Duration() <= MaxClockSkew ? null
            : $"run log entries older than {keepDays} days were not removed: this machine's clock says {local:yyyy-MM-ddTHH:mm:ss}Z and PostgreSQL's {server:yyyy-MM-ddTHH:mm:ss}Z, more than {MaxClockSkew.TotalMinutes:0} minutes apart, and entries go by their age, so a wrong clock would remove the wrong ones. Set the clock right (NTP); a later run with --keep-days prunes";
    }

    /// <summary>
    /// Removes entries that finished (or started, when never finished) before the cutoff and that PostgreSQL has
    /// (<c>dbsync.runs</c>): one not sent yet would be lost there for good. Returns how many.
    /// </summary>
    public static int Prune(SqliteConnection sqlite, DateTime cutoffUtc)
    {
        ArgumentNullException.ThrowIfNull(sqlite);
        using var command = CaptureStore.Command(sqlite, null,
            "DELETE FROM _dbsync_runs WHERE coalesce(finished_at, started_at) < $cutoff AND status <> 'Running' AND pg_sent = 1");
        command.Parameters.AddWithValue("$cutoff", Iso(cutoffUtc));
        return command.ExecuteNonQuery();
    }

    /// <summary>The file's meta key holding when its run log last pruned the backup (ISO 8601, UTC).</summary>
    private const string BackupPrunedKey = "backup_pruned_at";

    /// <summary>How often the runs of a watch rewrite the backup (<see cref="BackupPruneDue"/>).</summary>
    internal static readonly TimeSpan BackupPruneInterval = TimeSpan.FromDays(1);

    /// <summary>
    /// Whether a watch's run prunes the backup: when this file never did, or last did a day ago or more (or in what is
    /// now the future: a clock set back).
    /// </summary>
    internal static bool BackupPruneDue(SqliteConnection sqlite, DateTime nowUtc) =>
        CaptureStore.ReadMeta(sqlite, null, BackupPrunedKey) is not { } last
        || !DateTime.TryParse(last, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
        || nowUtc - at >= BackupPruneInterval || at > nowUtc;

    /// <summary>Records that this file's run log pruned the backup now.</summary>
    internal static void NoteBackupPruned(SqliteConnection sqlite, DateTime nowUtc)
    {
        using var transaction = sqlite.BeginTransaction();
        CaptureStore.WriteMeta(sqlite, transaction, BackupPrunedKey, Iso(nowUtc));
        transaction.Commit();
    }

    /// <summary>
    /// Rewrites the backup without this file's entries (<see cref="IsThisFiles"/>) that finished (or started) before the
    /// cutoff, except runs the file holds unsent to PostgreSQL: the backup is their only other copy. Other files' lines
    /// stay (a shared backup; only their own file knows which of its runs are unsent), and so do lines that do not
    /// parse. This file's attempts that failed before they started go once old: they changed nothing. Holds the backup's
    /// lock throughout, so that no line another process appends meanwhile is lost, and streams the lines to BACKUP.tmp
    /// (a backup can be larger than memory), which it then copies back into the backup. Returns how many lines it removed; with none, the backup is left as it is.
    /// </summary>
    public static int PruneBackup(SqliteConnection sqlite, string backupPath, DateTime cutoffUtc, string? nodeId, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(sqlite);
        if (!File.Exists(backupPath))
        {
            return 0;
        }

        var unsent = new HashSet<Guid>();
        using (var command = CaptureStore.Command(sqlite, null, "SELECT run_id FROM _dbsync_runs WHERE pg_sent = 0"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                // A run id that is not a GUID (a hand edit) names no backup line.
                if (Guid.TryParse(reader.GetValue(0) as string, out var runId))
                {
                    unsent.Add(runId);
                }
            }
        }

        RefuseNonBackup(backupPath);
        using var hold = LockBackup(backupPath)
            ?? throw new UnauthorizedAccessException($"its lock file '{BackupLockPathFor(backupPath)}' cannot be made or opened, and lines other processes append while it is rewritten would be lost");
        var realPath = RunLock.TryRealPath(databasePath);
        // Under the lock, one new file at a time: two prunes of a shared backup never write the same one.
        var temporary = backupPath + ".tmp";
        var removed = 0;
        // Opened for writing first (it is rewritten in place, below): a backup this account may not write fails here,
        // before any new file is made.
        using var backup = new FileStream(backupPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            using (var reader = new StreamReader(new FileStream(backupPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), Encoding.UTF8))
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
            using (var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
            {
                while (reader.ReadLine() is { } line)
                {
                    if (TryParse(line, out var entry, out _) && (entry.FinishedAt ?? entry.StartedAt) < cutoffUtc && !unsent.Contains(entry.RunId)
                        && IsThisFiles(entry, nodeId, databasePath, realPath))
                    {
                        removed++;
                        continue;
                    }

                    writer.Write(line);
                    writer.Write('\n');
                }

                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            if (removed == 0)
            {
                File.Delete(temporary);
                return 0;
            }
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        // The kept lines are copied back into the backup itself, not renamed over it: a new file belongs to whoever prunes
        // (an administrator's manual run took a backup shared with a service account, which could no longer append) and
        // loses the backup's group, ACLs and hard links. Until the copy is done the flushed BACKUP.tmp holds every kept
        // line: a prune that fails (or is killed) now leaves it there, and the backup the lines copied so far followed by
        // the rest of its old ones (a kept line comes no later in the new text than in the old, so none is lost but the
        // one being written, which BACKUP.tmp holds).
        using (var source = new FileStream(temporary, FileMode.Open, FileAccess.Read))
        {
            source.CopyTo(backup);
            backup.SetLength(backup.Position);
            backup.Flush(flushToDisk: true);
        }

        File.Delete(temporary);
        return removed;
    }

    /// <summary>
    /// Sends finished entries not yet in PostgreSQL to <c>dbsync.runs</c> and marks them sent. Best effort: the
    /// caller reports a failure as a warning and the entries go on a later run. A row that cannot be read is not sent
    /// (nor marked sent) and is named in the list returned, for a warning: it used to fail every send, so no later entry
    /// reached PostgreSQL.
    /// </summary>
    public static async Task<IReadOnlyList<string>> SendToPostgresAsync(SqliteConnection sqlite, NpgsqlConnection pg, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sqlite);
        ArgumentNullException.ThrowIfNull(pg);
        var unsent = new List<RunLogEntry>();
        var unreadable = new List<string>();
        using (var command = CaptureStore.Command(sqlite, null, $"SELECT {Columns} FROM _dbsync_runs WHERE pg_sent = 0 AND status <> 'Running' ORDER BY started_at"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                if (TryReadEntry(reader, out var entry, out var problem))
                {
                    unsent.Add(entry);
                }
                else
                {
                    unreadable.Add(problem);
                }
            }
        }

        if (unsent.Count == 0)
        {
            return unreadable;
        }

        await EnsurePostgresTableAsync(pg, cancellationToken).ConfigureAwait(false);
        // Never a less final entry over a more final one (see Finality): a restored file sends again what PostgreSQL
        // may already hold better, such as a run restored as Abandoned whose finished line the backup missed.
        var upsert = $"""
            INSERT INTO dbsync.runs AS r (run_id, node_id, path, target, started_at, finished_at, status, inserted, updated, deleted,
                conflicts, conflicts_resolved, quarantined, duration_ms, tables, error_id, message, version)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[],
                $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::jsonb[],
                $16::text[], $17::text[], $18::text[])
            ON CONFLICT (run_id) DO UPDATE SET node_id = EXCLUDED.node_id, path = EXCLUDED.path, target = EXCLUDED.target,
                started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, status = EXCLUDED.status,
                inserted = EXCLUDED.inserted, updated = EXCLUDED.updated, deleted = EXCLUDED.deleted, conflicts = EXCLUDED.conflicts,
                conflicts_resolved = EXCLUDED.conflicts_resolved, quarantined = EXCLUDED.quarantined, duration_ms = EXCLUDED.duration_ms,
                tables = EXCLUDED.tables, error_id = EXCLUDED.error_id, message = EXCLUDED.message, version = EXCLUDED.version
            WHERE {FinalitySql("EXCLUDED")} >= {FinalitySql("r")}
            """;
        // A database whose encoding lacks some characters of the entries' text (the path, a message naming a value) gets
        // them written as U+XXXX: sent as they are, they failed every send with 22P05, and every later entry stayed unsent.
        string? Fit(string? text) => Target.ServerEncoding.Fit(pg, text);
        foreach (var chunk in unsent.Chunk(1000))
        {
            using (var command = new NpgsqlCommand(upsert, pg))
            {
                command.Parameters.AddWithValue(chunk.Select(e => e.RunId).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.NodeId).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => Fit(e.Path)).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => Fit(e.Target)).ToArray());
                command.Parameters.Add(new NpgsqlParameter { Value = chunk.Select(e => DateTime.SpecifyKind(e.StartedAt, DateTimeKind.Utc)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                command.Parameters.Add(new NpgsqlParameter
                {
                    Value = chunk.Select(e => e.FinishedAt is { } f ? DateTime.SpecifyKind(f, DateTimeKind.Utc) : (DateTime?)null).ToArray(),
                    NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
                });
                command.Parameters.AddWithValue(chunk.Select(e => e.Status.ToString()).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.Inserted).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.Updated).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.Deleted).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.Conflicts).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.ConflictsResolved).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.Quarantined).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.DurationMs).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => Fit(JsonSerializer.Serialize(e.Tables, RunLogEntry.JsonOptions))).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => Fit(e.ErrorId)).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => Fit(e.Message)).ToArray());
                command.Parameters.AddWithValue(chunk.Select(e => e.Version).ToArray());
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            using var transaction = sqlite.BeginTransaction(deferred: false);
            foreach (var entry in chunk)
            {
                // Only if unchanged since it was read; a rewritten entry stays due.
                using var mark = CaptureStore.Command(sqlite, transaction, "UPDATE _dbsync_runs SET pg_sent = 1 WHERE run_id = $id AND status = $status AND coalesce(finished_at, '') = $finished");
                mark.Parameters.AddWithValue("$id", entry.RunId.ToString());
                mark.Parameters.AddWithValue("$status", entry.Status.ToString());
                mark.Parameters.AddWithValue("$finished", entry.FinishedAt is { } f ? Iso(f) : "");
                mark.ExecuteNonQuery();
            }

            transaction.Commit();
        }

        return unreadable;
    }

    private static async Task EnsurePostgresTableAsync(NpgsqlConnection pg, CancellationToken cancellationToken)
    {
        // An administrator may have made it for a role without CREATE there: then no DDL at all.
        using (var exists = new NpgsqlCommand("SELECT to_regclass('dbsync.runs') IS NOT NULL", pg))
        {
            if ((bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return;
            }
        }

        const string ddl = """
            CREATE TABLE IF NOT EXISTS dbsync.runs (
                run_id uuid PRIMARY KEY,
                node_id text,
                path text,
                target text,
                started_at timestamptz NOT NULL,
                finished_at timestamptz,
                status text NOT NULL,
                inserted bigint NOT NULL,
                updated bigint NOT NULL,
                deleted bigint NOT NULL,
                conflicts bigint NOT NULL,
                conflicts_resolved bigint NOT NULL,
                quarantined bigint NOT NULL,
                duration_ms bigint NOT NULL,
                tables jsonb,
                error_id text,
                message text,
                version text,
                received_at timestamptz NOT NULL DEFAULT now())
            """;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Target.PgWriter.EnsureSchemaAsync(pg, null, "dbsync", cancellationToken).ConfigureAwait(false);
                using var command = new NpgsqlCommand(ddl, pg);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (PostgresException ex) when (ex.SqlState is "23505" or "42P07" && attempt < 3)
            {
                // Two nodes creating the schema at the same instant: the loser retries and finds it.
            }
        }
    }

    /// <summary>
    /// Restores backup entries missing from the database. Of several lines of one run the most final counts (see
    /// <see cref="Finality(RunStatus, bool)"/>); it replaces a recorded entry only when it is more final (a run recorded as
    /// Running or Abandoned is completed by its finished entry). A run whose most final line is Running is restored as
    /// Abandoned. Restoring the same backup twice changes nothing the second time. Only this file's runs are restored:
    /// those of node <paramref name="nodeId"/> or of <paramref name="databasePath"/> (one backup may serve several files,
    /// DBSYNC_LOG_PATH); the path also finds the runs of a file that was purged and enabled again under a new node id,
    /// and those that failed before the file was read (they have no node id).
    /// </summary>
    public static RestoreLogResult Restore(SqliteConnection sqlite, string backupPath, string databasePath, string? nodeId, bool whatIf, bool noRunActive)
    {
        ArgumentNullException.ThrowIfNull(sqlite);
        CheckBackup(backupPath);
        var invalid = new List<InvalidLogLine>();
        var latest = new Dictionary<Guid, RunLogEntry>();
        var order = new List<Guid>();
        var skipped = 0;
        var number = 0;
        var realPath = RunLock.TryRealPath(databasePath);
        foreach (var line in ReadBackupLines(backupPath))
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            if (!TryParse(line, out var entry, out var reason))
            {
                invalid.Add(new InvalidLogLine(number, reason));
                continue;
            }

            if (!IsThisFiles(entry, nodeId, databasePath, realPath))
            {
                skipped++; // another file's run
                continue;
            }

            if (latest.TryGetValue(entry.RunId, out var earlier))
            {
                skipped++; // one of two lines of the same run: the less final one, or the earlier of two as final
                if (Finality(entry) < Finality(earlier))
                {
                    continue;
                }
            }
            else
            {
                order.Add(entry.RunId);
            }

            latest[entry.RunId] = entry;
        }

        // How final each recorded run's entry is: only a more final one from the backup replaces it.
        var recorded = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        using (var command = CaptureStore.Command(sqlite, null, "SELECT run_id, status, message IS NOT NULL FROM _dbsync_runs"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                recorded[reader.GetString(0)] = Enum.TryParse<RunStatus>(reader.GetString(1), out var status) ? Finality(status, reader.GetBoolean(2)) : 0;
            }
        }

        var restore = new List<RunLogEntry>();
        foreach (var id in order)
        {
            var entry = latest[id];
            if (entry.Status == RunStatus.Running && noRunActive)
            {
                entry.Status = RunStatus.Abandoned;
            }

            if (!recorded.TryGetValue(id.ToString(), out var finality) || Finality(entry) > finality)
            {
                restore.Add(entry);
            }
            else
            {
                skipped++;
            }
        }

        if (!whatIf && restore.Count > 0)
        {
            using var transaction = sqlite.BeginTransaction(deferred: false);
            using (var writer = new EntryWriter(sqlite, transaction))
            {
                foreach (var entry in restore)
                {
                    writer.Write(entry);
                }
            }

            transaction.Commit();
        }

        return new RestoreLogResult { BackupPath = backupPath, Restored = restore, Skipped = skipped, Invalid = invalid, WhatIf = whatIf };
    }

    /// <summary>
    /// Whether a backup line is a run of this file, as restore-log and the prune tell: its node id is the file's, or its
    /// path is the file's (a file purged and enabled again has a new node id; an attempt that failed before the file was
    /// read has none). One backup may serve several files (DBSYNC_LOG_PATH, --log-path).
    /// </summary>
    internal static bool IsThisFiles(RunLogEntry entry, string? nodeId, string databasePath, string realPath) =>
        nodeId is not null && entry.NodeId == nodeId
        // The file's path with links resolved (RunLock.TryRealPath, as runs record it), or as given: earlier runs through
        // a link recorded the link's.
        || entry.Path is { } recorded && (SamePath(recorded, realPath) || SamePath(recorded, databasePath));

    private static bool SamePath(string a, string b) => string.Equals(a, b, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>
    /// Refuses a backup restore-log cannot use, before anything is changed: missing, a folder, or unreadable
    /// (permissions, an I/O error).
    /// </summary>
    /// <exception cref="DbSyncException">LogBackupNotFound or LogBackupUnreadable.</exception>
    public static void CheckBackup(string backupPath)
    {
        if (!File.Exists(backupPath))
        {
            throw new DbSyncException(ErrorIds.LogBackupNotFound, DbSyncErrorCategory.ObjectNotFound,
                Directory.Exists(backupPath)
                    ? $"The run log backup '{backupPath}' is a folder; give the backup file (FILE-dbsync-log.jsonl)."
                    : $"The run log backup '{backupPath}' does not exist.", backupPath);
        }

        if (Watching.FileIdentity.IsSpecial(backupPath))
        {
            throw Unreadable(backupPath, new IOException("it is not a regular file (a device, a pipe or a socket)"));
        }

        // A database named as the backup (a script's variables mixed up) was read page by page as lines: exit 0 and
        // dozens of "invalid line" warnings carrying its binary content (module2 exploration, F4).
        if (Source.SourceDatabase.IsSqliteFile(backupPath))
        {
            throw Unreadable(backupPath, new IOException("it is a SQLite database (or a database's journal), not a run log backup; name the backup, FILE-dbsync-log.jsonl beside the database unless --log-path moved it"));
        }

        try
        {
            using var stream = new FileStream(backupPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.ReadByte();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(backupPath, ex);
        }
    }

    /// <summary>The backup's lines; a failure to read them midway is <see cref="ErrorIds.LogBackupUnreadable"/>.</summary>
    private static IEnumerable<string> ReadBackupLines(string backupPath)
    {
        using var reader = Open();
        while (true)
        {
            string? line;
            try
            {
                line = reader.ReadLine();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Unreadable(backupPath, ex);
            }

            if (line is null)
            {
                yield break;
            }

            yield return line;
        }

        StreamReader Open()
        {
            try
            {
                return new StreamReader(new FileStream(backupPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), Encoding.UTF8);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Unreadable(backupPath, ex);
            }
        }
    }

    private static DbSyncException Unreadable(string backupPath, Exception ex) => new(ErrorIds.LogBackupUnreadable,
        ex is UnauthorizedAccessException ? DbSyncErrorCategory.PermissionDenied : DbSyncErrorCategory.NotSpecified,
        $"The run log backup '{backupPath}' cannot be read ({ex.Message}).", backupPath, ex);

    /// <summary>Parses and validates one backup line.</summary>
    public static bool TryParse(string line, out RunLogEntry entry, out string reason)
    {
        ArgumentNullException.ThrowIfNull(line);
        try
        {
            // One pass for the lines that are fine (nearly all); [JsonRequired] and the types reject the rest, which
            // the detailed validation below then explains.
            if (JsonSerializer.Deserialize<RunLogEntry>(line, RunLogEntry.JsonOptions) is { } parsed
                && parsed.RunId != Guid.Empty && parsed.Inserted >= 0 && parsed.Updated >= 0 && parsed.Deleted >= 0
                && parsed.Conflicts >= 0 && parsed.ConflictsResolved >= 0 && parsed.Quarantined >= 0
                && (parsed.Tables ?? []).All(t => t is null || !string.IsNullOrEmpty(t.Name) && t.Inserted >= 0 && t.Updated >= 0 && t.Deleted >= 0
                    && t.Conflicts >= 0 && t.ConflictsResolved >= 0 && t.Quarantined >= 0))
            {
                entry = Normalized(parsed);
                reason = "";
                return true;
            }
        }
        catch (JsonException)
        {
        }

        return TryParseSlowly(line, out entry, out reason);
    }

    private static bool TryParseSlowly(string line, out RunLogEntry entry, out string reason)
    {
        entry = new RunLogEntry();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            reason = $"not valid JSON (a truncated or damaged line): {ex.Message}";
            return false;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                reason = "not a JSON object";
                return false;
            }

            string? Missing(string name, JsonValueKind kind) =>
                !root.TryGetProperty(name, out var value) ? $"the required field '{name}' is missing"
                : value.ValueKind != kind ? $"the field '{name}' is {value.ValueKind.ToString().ToLowerInvariant()}, not {kind.ToString().ToLowerInvariant()}"
                : null;

            var problem = Missing("runId", JsonValueKind.String) ?? Missing("startedAt", JsonValueKind.String) ?? Missing("status", JsonValueKind.String)
                ?? Missing("inserted", JsonValueKind.Number) ?? Missing("updated", JsonValueKind.Number) ?? Missing("deleted", JsonValueKind.Number);
            if (problem is not null)
            {
                reason = problem;
                return false;
            }

            if (!Guid.TryParse(root.GetProperty("runId").GetString(), out _))
            {
                reason = $"'runId' is '{root.GetProperty("runId").GetString()}', not a GUID";
                return false;
            }

            // Exactly a name: Enum.TryParse also takes numbers and comma lists.
            if (!Enum.GetNames<RunStatus>().Contains(root.GetProperty("status").GetString(), StringComparer.Ordinal))
            {
                reason = $"'status' is '{root.GetProperty("status").GetString()}', not one of {string.Join(", ", Enum.GetNames<RunStatus>())}";
                return false;
            }

            foreach (var name in new[] { "inserted", "updated", "deleted", "conflicts", "conflictsResolved", "quarantined" })
            {
                // The first three are required (checked above); the others, where present.
                if (root.TryGetProperty(name, out var value) && (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var count) || count < 0))
                {
                    reason = $"'{name}' is not a whole number of 0 or more";
                    return false;
                }
            }

            // Negative where present is taken (see Normalized), not a fraction or text.
            if (root.TryGetProperty("durationMs", out var duration) && (duration.ValueKind != JsonValueKind.Number || !duration.TryGetInt64(out _)))
            {
                reason = "'durationMs' is not a whole number";
                return false;
            }

            if (TableProblem(root) is { } tableProblem)
            {
                reason = tableProblem;
                return false;
            }

            try
            {
                entry = root.Deserialize<RunLogEntry>(RunLogEntry.JsonOptions)!;
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
            {
                reason = $"a field has the wrong type: {ex.Message}";
                return false;
            }

            entry = Normalized(entry);
            reason = "";
            return true;
        }
    }

    /// <summary>
    /// What is wrong with an entry's <c>tables</c>, or null: each item must be an object (or null, skipped) naming its
    /// table, with counts that are whole numbers of 0 or more and text fields that are text. <c>log</c> shows these
    /// figures as the run's per-table outcome, so a hand-edited line with a negative count or no name is refused as the
    /// run's own counts are.
    /// </summary>
    private static string? TableProblem(JsonElement root)
    {
        if (!root.TryGetProperty("tables", out var tables) || tables.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (tables.ValueKind != JsonValueKind.Array)
        {
            return $"'tables' is {tables.ValueKind.ToString().ToLowerInvariant()}, not an array";
        }

        var index = 0;
        foreach (var table in tables.EnumerateArray())
        {
            index++;
            if (table.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (table.ValueKind != JsonValueKind.Object)
            {
                return $"table {index} of 'tables' is {table.ValueKind.ToString().ToLowerInvariant()}, not an object";
            }

            if (!table.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString()!.Length == 0)
            {
                return $"table {index} of 'tables' has no 'name'";
            }

            foreach (var field in new[] { "inserted", "updated", "deleted", "conflicts", "conflictsResolved", "quarantined" })
            {
                if (table.TryGetProperty(field, out var value) && (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var count) || count < 0))
                {
                    return $"'{field}' of table '{name.GetString()}' in 'tables' is not a whole number of 0 or more";
                }
            }

            foreach (var field in new[] { "target", "mode", "status", "errorId", "message" })
            {
                if (table.TryGetProperty(field, out var value) && value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                {
                    return $"'{field}' of table '{name.GetString()}' in 'tables' is {value.ValueKind.ToString().ToLowerInvariant()}, not text";
                }
            }
        }

        return null;
    }

    /// <summary>
    /// A parsed line as the file stores it: its start in UTC, and never a negative duration or a finish before the start.
    /// Earlier DbSync builds read the wall clock again at the end of a run, so a clock stepped back during the run (NTP,
    /// a VM resumed from a snapshot) wrote such a line; how long that run really took is lost, so it is taken as 0 ms
    /// and its finish as its start. Such a line is the run's true outcome, and refusing it restored the run Abandoned.
    /// </summary>
    private static RunLogEntry Normalized(RunLogEntry entry)
    {
        // "tables": null (or a null in the list) from a hand-edited or foreign line: stored as the text null before.
        entry.Tables = entry.Tables?.Where(t => t is not null).ToList() ?? [];
        entry.StartedAt = DateTime.SpecifyKind(entry.StartedAt.ToUniversalTime(), DateTimeKind.Utc);
        if (entry.FinishedAt < entry.StartedAt || entry.DurationMs < 0)
        {
            entry.FinishedAt = entry.FinishedAt is null ? null : entry.StartedAt;
            entry.DurationMs = 0;
        }

        return entry;
    }

    /// <summary>True when a table exists in the file.</summary>
    public static bool TableExists(SqliteConnection sqlite, string name)
    {
        ArgumentNullException.ThrowIfNull(sqlite);
        using var command = CaptureStore.Command(sqlite, null, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $n");
        command.Parameters.AddWithValue("$n", name);
        return (long)command.ExecuteScalar()! > 0;
    }

    /// <summary>
    /// Reads the row under the reader, or says why it cannot: a row DbSync did not write (a hand edit with sqlite3,
    /// another tool) may hold a status in another case, a time that is not ISO 8601, a run id that is not a GUID or
    /// tables that are not a JSON array. Such a row is left out wherever the log is read, and named in a warning, rather
    /// than failing the whole read (log, status, the send to dbsync.runs, and a sync's start).
    /// </summary>
    private static bool TryReadEntry(SqliteDataReader reader, out RunLogEntry entry, out string problem)
    {
        try
        {
            entry = ReadEntry(reader);
            problem = "";
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or JsonException or InvalidCastException or OverflowException or InvalidOperationException)
        {
            entry = new RunLogEntry();
            var runId = reader.IsDBNull(0) ? "null" : $"'{reader.GetValue(0)}'";
            problem = $"the run log row with run_id {runId} in _dbsync_runs cannot be read ({SyncEngine.OneLine(ex)}) and is left out; correct or delete it (sqlite3)";
            return false;
        }
    }

    private static RunLogEntry ReadEntry(SqliteDataReader reader) => new()
    {
        RunId = Guid.Parse(reader.GetString(0)),
        NodeId = reader.IsDBNull(1) ? null : reader.GetString(1),
        Path = reader.IsDBNull(2) ? null : reader.GetString(2),
        Target = reader.IsDBNull(3) ? null : reader.GetString(3),
        StartedAt = ParseIso(reader.GetString(4)),
        FinishedAt = reader.IsDBNull(5) ? null : ParseIso(reader.GetString(5)),
        Status = ParseStatus(reader.GetString(6)),
        Inserted = reader.GetInt64(7),
        Updated = reader.GetInt64(8),
        Deleted = reader.GetInt64(9),
        Conflicts = reader.GetInt64(10),
        ConflictsResolved = reader.GetInt64(11),
        Quarantined = reader.GetInt64(12),
        DurationMs = reader.GetInt64(13),
        Tables = reader.IsDBNull(14) ? [] : JsonSerializer.Deserialize<List<TableLogEntry>>(reader.GetString(14), RunLogEntry.JsonOptions)?.Where(t => t is not null).ToList() ?? [],
        ErrorId = reader.IsDBNull(15) ? null : reader.GetString(15),
        Message = reader.IsDBNull(16) ? null : reader.GetString(16),
        Version = reader.IsDBNull(17) ? "" : reader.GetString(17),
    };

    /// <summary>Exactly a name, as DbSync writes it: Enum.Parse also took numbers and comma lists.</summary>
    private static RunStatus ParseStatus(string text) => Enum.GetNames<RunStatus>().Contains(text, StringComparer.Ordinal)
        ? Enum.Parse<RunStatus>(text)
        : throw new FormatException($"status '{text}' is not one of {string.Join(", ", Enum.GetNames<RunStatus>())}");

    internal static string Iso(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc).ToString("O", CultureInfo.InvariantCulture);

    private static DateTime ParseIso(string text) => DateTime.SpecifyKind(
        DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), DateTimeKind.Utc);
}
