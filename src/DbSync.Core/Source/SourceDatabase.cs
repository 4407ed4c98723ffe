using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace DbSync.Core.Source;

/// <summary>Validates and opens the SQLite file. Never creates a database: a missing file is an error.</summary>
public static class SourceDatabase
{
    private static ReadOnlySpan<byte> Header => "SQLite format 3\0"u8;

    /// <summary>Returns the full path of a file that exists, is a regular file and starts with the SQLite header.</summary>
    /// <exception cref="DbSyncException">SourceNotFound, SourceNotAFile or SourceNotSqlite.</exception>
    public static string Validate(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument, "No SQLite database path was given (--path).");
        }

        var full = Path.GetFullPath(path);
        // A connection string passed where the path belongs must not have its password repeated in the error.
        var shown = Secrets.Redact(full);
        if (Directory.Exists(full))
        {
            throw new DbSyncException(ErrorIds.SourceNotAFile, DbSyncErrorCategory.InvalidArgument,
                $"'{shown}' is a directory, not a SQLite database file.", shown);
        }

        if (!File.Exists(full))
        {
            throw new DbSyncException(ErrorIds.SourceNotFound, DbSyncErrorCategory.ObjectNotFound,
                $"The SQLite database '{shown}' does not exist.", shown);
        }

        Span<byte> head = stackalloc byte[16];
        int read;
        try
        {
            // Never while a connection of this process has the file open: on POSIX systems closing ANY descriptor of a
            // file drops every lock the process holds on it, SQLite's included. A watch validated the path before each
            // run with its polling connection open, lost that connection's WAL locks, and another program closing its
            // last connection then checkpointed and reset the WAL under it: the file was damaged (schema exploration, F0).
            read = ReadHead(full, head);
            if (read < 0)
            {
                // SQLite has this very file open here, so it is a SQLite database; a header damaged since is
                // SQLite's to report (DbSync.SourceNotSqlite or SourceCorrupt from the next statement).
                return full;
            }
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new DbSyncException(ErrorIds.SourceReadOnly, DbSyncErrorCategory.PermissionDenied,
                $"The SQLite database '{full}' cannot be read: {ex.Message}", full, ex);
        }
        catch (IOException ex)
        {
            throw new DbSyncException(ErrorIds.SourceError, DbSyncErrorCategory.ObjectNotFound,
                $"The SQLite database '{full}' cannot be read: {ex.Message}", full, ex);
        }

        if ((read < head.Length || !head.SequenceEqual(Header)) && SideFile(full) is { } side)
        {
            throw new DbSyncException(ErrorIds.SourceNotSqlite, DbSyncErrorCategory.InvalidData,
                $"'{full}' is {side}, not a SQLite database; give the database's own path (a folder's files piped in include DbSync's files beside each database).", full);
        }

        if (read == 0)
        {
            throw new DbSyncException(ErrorIds.SourceNotSqlite, DbSyncErrorCategory.InvalidData,
                $"'{full}' is empty, not a SQLite database.", full);
        }

        if (read < head.Length || !head.SequenceEqual(Header))
        {
            throw new DbSyncException(ErrorIds.SourceNotSqlite, DbSyncErrorCategory.InvalidData,
                $"'{full}' is not a SQLite database (it does not start with the SQLite file header).", full);
        }

        return full;
    }

    /// <summary>
    /// What a file DbSync itself makes beside a database or a backup is, by its name, or null: its run lock
    /// (<c>FILE-dbsync.lock</c>), its run log backup (<c>FILE-dbsync-log.jsonl</c>), a backup's lock (<c>BACKUP.lock</c>)
    /// or a prune's new copy (<c>BACKUP.tmp</c>). Given as the path (a folder's files piped into Start-DbSync), such a file
    /// is a clear error that records nothing: its failure recorded in a backup beside it made two new files there each
    /// time, and each of those, piped in on the next run, two more.
    /// </summary>
    internal static string? SideFile(string fullPath)
    {
        static string Of(string path, string suffix) => path[..^suffix.Length];
        return fullPath.EndsWith("-dbsync.lock", StringComparison.OrdinalIgnoreCase) ? $"DbSync's run lock file of '{Of(fullPath, "-dbsync.lock")}'"
            : fullPath.EndsWith("-dbsync-log.jsonl", StringComparison.OrdinalIgnoreCase) ? $"DbSync's run log backup of '{Of(fullPath, "-dbsync-log.jsonl")}'"
            : fullPath.EndsWith(".jsonl.lock", StringComparison.OrdinalIgnoreCase) ? $"the lock file of DbSync's run log backup '{Of(fullPath, ".lock")}'"
            : fullPath.EndsWith(".jsonl.tmp", StringComparison.OrdinalIgnoreCase) ? $"the copy DbSync's --prune-backup makes of the run log backup '{Of(fullPath, ".tmp")}'"
            : null;
    }

    /// <summary>Opens a read-write connection to an existing file. The busy timeout applies to every statement.</summary>
    /// <remarks>
    /// While the file is locked, SQLite tries again, in quick succession and then after short sleeps, for the whole busy timeout (see
    /// <see cref="PollWhileBusy"/>): its own busy handler backs off to one try every 100 ms, which a program committing
    /// small transactions back to back almost never leaves the lock free for, so a write starved for the whole timeout.
    /// </remarks>
    /// <param name="fullPath">The file.</param>
    /// <param name="busyTimeoutSeconds">How long a statement waits for another program's lock.</param>
    /// <param name="cancellationToken">Ends those waits at once (see <see cref="CancelWaitsWith"/>), opening included.</param>
    public static SqliteConnection Open(string fullPath, int busyTimeoutSeconds = 30, CancellationToken cancellationToken = default)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            // Microsoft.Data.Sqlite's own retries of a statement SQLite answered BUSY, every 150 ms up to this many
            // seconds: the busy handler below does the waiting, so this only adds at most a second after it gave up
            // (the busy timeout, or a cancelled wait). 0 would mean retrying without end.
            DefaultTimeout = 1,
        };
        var connection = new SqliteConnection(builder.ToString());
        // Registered before SQLite can take a lock on the file, and released when the connection closes: a header read
        // (Validate) of the same file waits for the registration or is skipped, and never closes a descriptor of it.
        var identity = Register(fullPath);
        connection.StateChange += (_, e) =>
        {
            if (e.CurrentState == System.Data.ConnectionState.Closed)
            {
                Release(ref identity);
            }
        };
        try
        {
            connection.Open();
            var db = connection.Handle!;
            connection.StateChange += (_, e) =>
            {
                if (e.CurrentState == System.Data.ConnectionState.Closed)
                {
                    Forget(db);
                }
            };
            using var command = connection.CreateCommand();
            // The pragma makes SQLite itself wait (with its own busy handler, which PollWhileBusy then replaces by a
            // finer one where it can).
            command.CommandText = $"PRAGMA busy_timeout = {busyTimeoutSeconds * 1000}";
            command.ExecuteNonQuery();
            PollWhileBusy(db, busyTimeoutSeconds, cancellationToken);
            // Reading the schema proves the file can be read now. On its own: as the second statement of one command,
            // ExecuteScalar returned the pragma's row, and a file locked past the busy timeout went unnoticed here, to
            // fail only after the next statement had waited the whole timeout again.
            command.CommandText = "SELECT count(*) FROM sqlite_master";
            command.ExecuteScalar();
            return connection;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            Release(ref identity);
            throw Translate(ex, fullPath);
        }
        catch
        {
            connection.Dispose();
            Release(ref identity);
            throw;
        }
    }

    /// <summary>
    /// Whether the file at <paramref name="fullPath"/> is a SQLite database or one's rollback journal or WAL: a file this
    /// process has open as one, or one starting with their headers. The run log's backup is refused such a file: appended
    /// to, a database named as the backup (a script's variables mixed up) took JSON lines, and a prune rewrote it as text
    /// and destroyed it (ops exploration, F6). Never opens a file a connection of this process has open (see
    /// <see cref="Validate"/>).
    /// </summary>
    internal static bool IsSqliteFile(string fullPath)
    {
        Span<byte> head = stackalloc byte[16];
        int read;
        try
        {
            read = ReadHead(fullPath, head);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // nothing there, or unreadable: the write that follows says why
        }

        if (read < 0)
        {
            return true; // a connection of this process has it open as a database
        }

        ReadOnlySpan<byte> wal = [0x37, 0x7f, 0x06];
        ReadOnlySpan<byte> journal = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
        return read == head.Length && head.SequenceEqual(Header)
            || read >= 4 && head[..3].SequenceEqual(wal) && head[3] is 0x82 or 0x83
            || read >= journal.Length && head[..journal.Length].SequenceEqual(journal);
    }

    /// <summary>
    /// Reads the file's first bytes into <paramref name="head"/> and returns how many it read; -1, without opening it, when
    /// a connection of this process has the file open: on POSIX systems closing ANY descriptor of a file drops every lock
    /// the process holds on it, SQLite's included (schema exploration, F0).
    /// </summary>
    private static int ReadHead(string fullPath, Span<byte> head)
    {
        lock (HeaderGate)
        {
            if (!OperatingSystem.IsWindows() && Watching.FileIdentity.Of(fullPath) is { } identity && OpenFiles.ContainsKey(identity))
            {
                return -1;
            }

            using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
    }

    /// <summary>Serialises <see cref="Validate"/>'s header reads with <see cref="Register"/>.</summary>
    private static readonly object HeaderGate = new();

    /// <summary>The files connections of this process have open (by <see cref="Watching.FileIdentity"/>), and how many each.</summary>
    private static readonly ConcurrentDictionary<string, int> OpenFiles = new();

    private static string? Register(string fullPath)
    {
        if (OperatingSystem.IsWindows())
        {
            return null; // closing a handle there drops no lock taken through another one
        }

        lock (HeaderGate)
        {
            var identity = Watching.FileIdentity.Of(fullPath);
            if (identity is not null)
            {
                OpenFiles.AddOrUpdate(identity, 1, (_, count) => count + 1);
            }

            return identity;
        }
    }

    /// <summary>Releases what <see cref="Register"/> registered, once: the closed event and a failed open may both call it.</summary>
    private static void Release(ref string? identity)
    {
        if (Interlocked.Exchange(ref identity, null) is not { } released)
        {
            return;
        }

        lock (HeaderGate)
        {
            if (OpenFiles.AddOrUpdate(released, 0, (_, count) => count - 1) <= 0)
            {
                OpenFiles.TryRemove(released, out _);
            }
        }
    }

    /// <summary>
    /// Opens the file as <see cref="Open"/> does for a command that is not a sync (enable, disable, reset-node): a
    /// cancelled wait for another program's lock ends it as cancelled rather than as <see cref="ErrorIds.SourceBusy"/>.
    /// </summary>
    public static SqliteConnection OpenCancellable(string fullPath, TimeSpan busyTimeout, CancellationToken cancellationToken)
    {
        try
        {
            return Open(fullPath, (int)Math.Ceiling(busyTimeout.TotalSeconds), cancellationToken);
        }
        catch (DbSyncException ex) when (ex.ErrorId == ErrorIds.SourceBusy && cancellationToken.IsCancellationRequested)
        {
            throw Cancelled(ex, cancellationToken);
        }
    }

    /// <summary>
    /// <see cref="Translate(SqliteException, string)"/>, except that a statement that gave up waiting for a lock because
    /// <paramref name="cancellationToken"/> was cancelled becomes an <see cref="OperationCanceledException"/>.
    /// </summary>
    public static Exception Translate(SqliteException ex, string fullPath, CancellationToken cancellationToken)
    {
        var translated = Translate(ex, fullPath);
        return translated.ErrorId == ErrorIds.SourceBusy && cancellationToken.IsCancellationRequested ? Cancelled(translated, cancellationToken) : translated;
    }

    private static OperationCanceledException Cancelled(Exception inner, CancellationToken cancellationToken) =>
        new("Cancelled while waiting for another program's lock on the SQLite file; nothing was changed.", inner, cancellationToken);

    /// <summary>
    /// Registers the connection's busy timeout and cancellation token (the one place that does), and replaces SQLite's
    /// default busy handler on it with one that alternates 2 ms of tries in quick succession with 2 ms of 1 ms sleeps
    /// until the statement has waited the busy timeout.
    /// </summary>
    /// <remarks>
    /// In rollback-journal mode a writer holds its RESERVED lock from its first write to its commit and takes it again
    /// microseconds after; SQLite's own handler, sleeping 1, 2, 5 ... then 100 ms between tries, wins that race rarely
    /// enough that DbSync's write transactions (installing capture, marking changes synced, the run log) failed as
    /// "locked longer than the busy timeout" although no lock was ever held for more than a few milliseconds. A try
    /// every millisecond still lost often on a busy machine (2 runs in 10 of the back-to-back writer test with both
    /// cores loaded); the quick tries cost CPU only while the file is locked. Kept as
    /// it was where the native library is not the e_sqlite3 that SQLitePCLRaw runs on (another provider, or no
    /// export): PRAGMA busy_timeout already set the default handler.
    /// </remarks>
    /// <param name="db">The connection; <see cref="Forget"/> drops what this registers for it once it is closed.</param>
    /// <param name="busyTimeoutSeconds">How long a statement waits.</param>
    /// <param name="cancellationToken">Ends the waits at once (see <see cref="CancelWaitsWith"/>).</param>
    internal static void PollWhileBusy(SQLitePCL.sqlite3 db, int busyTimeoutSeconds, CancellationToken cancellationToken)
    {
        var handle = db.DangerousGetHandle();
        Waits[handle] = new BusyWait(busyTimeoutSeconds) { Token = cancellationToken };
        if (busyTimeoutSeconds <= 0 || SQLitePCL.raw.GetNativeLibraryName() != "e_sqlite3")
        {
            return;
        }

        try
        {
            var rc = NativeMethods.sqlite3_busy_handler(handle, BusyHandler, handle);
            if (rc != SQLitePCL.raw.SQLITE_OK)
            {
                SqliteException.ThrowExceptionForRC(rc, db);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // The default handler stays.
        }
    }

    /// <summary>A connection's busy timeout, and what cancels its waits for a lock.</summary>
    private sealed class BusyWait(int timeoutSeconds)
    {
        public int TimeoutSeconds { get; } = timeoutSeconds;

        public long TimeoutTicks { get; } = timeoutSeconds * Stopwatch.Frequency;

        public CancellationToken Token { get; set; }
    }

    /// <summary>The open connections' waits, by their native handle (the argument SQLite passes the busy handler).</summary>
    private static readonly ConcurrentDictionary<nint, BusyWait> Waits = new();

    /// <summary>The busy timeout <paramref name="connection"/> was opened with, in seconds.</summary>
    public static int BusyTimeoutSeconds(SqliteConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return connection.Handle is { } db && Waits.TryGetValue(db.DangerousGetHandle(), out var wait) ? wait.TimeoutSeconds : 30;
    }

    /// <summary>
    /// From now on, a wait of <paramref name="connection"/> for a lock ends as soon as <paramref name="token"/> is
    /// cancelled (the statement then fails as busy), instead of after the busy timeout: Ctrl+C on a run that another
    /// program's lock holds up stops it at once. <see cref="CancellationToken.None"/> makes the waits uncancellable
    /// again, for the writes that must not be given up (recording what PostgreSQL committed).
    /// </summary>
    public static void CancelWaitsWith(SqliteConnection connection, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.Handle is { } db && Waits.TryGetValue(db.DangerousGetHandle(), out var wait))
        {
            wait.Token = token;
        }
    }

    /// <summary>Drops a closed connection's entry (its handle may be reused).</summary>
    internal static void Forget(SQLitePCL.sqlite3 db) => Waits.TryRemove(db.DangerousGetHandle(), out _);

    /// <summary>The handler's delegate, kept alive for the process since SQLite holds a pointer to it.</summary>
    private static readonly NativeMethods.BusyCallback BusyHandler = OnBusy;

    /// <summary>How long the statement now waiting on this thread has waited for locks so far, in Stopwatch ticks.</summary>
    [ThreadStatic]
    private static long t_waited;

    /// <summary>
    /// The busy timeout, in seconds, after which the handler last gave up a wait on this thread, 0 when it did not: the
    /// statement then fails as busy on the same thread, and <see cref="Translate(SqliteException, string)"/> says how long it waited.
    /// </summary>
    [ThreadStatic]
    private static int t_gaveUpAfter;

    /// <summary>When the handler last returned on this thread (a Stopwatch timestamp).</summary>
    [ThreadStatic]
    private static long t_returned;

    /// <summary>Of each cycle of the wait, the part spent trying again at once, and the whole cycle (Stopwatch ticks).</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 500, CycleTicks = Stopwatch.Frequency / 250;

    /// <summary>The most one gap between two calls adds to the wait: more is work SQLite did in between (a commit).</summary>
    private static readonly long MaxStepTicks = Stopwatch.Frequency / 50;

    /// <summary>
    /// SQLite's busy callback, for the connection <paramref name="db"/>: <paramref name="count"/> is 0 on a statement's
    /// first wait; a cancelled wait (<see cref="CancelWaitsWith"/>) ends at once. Returning 1 makes SQLite try
    /// the lock again at once. Each 4 ms cycle of the wait first tries again without pause for 2 ms, then sleeps: a
    /// writer that commits back to back frees its lock for some microseconds between its transactions, which a try
    /// every millisecond hits one time in hundreds, and only tries in quick succession are sure to catch. Like SQLite's
    /// own handler it counts only time spent waiting, so a statement that waits again after long work (a commit) gets
    /// the full timeout. Time is counted in Stopwatch ticks: a try takes less than a TimeSpan tick.
    /// </summary>
    private static int OnBusy(nint db, int count)
    {
        if (!Waits.TryGetValue(db, out var wait) || wait.Token.IsCancellationRequested)
        {
            return 0;
        }

        var now = Stopwatch.GetTimestamp();
        if (count <= 0)
        {
            t_waited = 0;
            t_gaveUpAfter = 0;
        }
        else
        {
            t_waited += Math.Min(now - t_returned, MaxStepTicks);
        }

        if (t_waited >= wait.TimeoutTicks)
        {
            t_gaveUpAfter = wait.TimeoutSeconds;
            return 0;
        }

        if (t_waited % CycleTicks >= SpinTicks)
        {
            Thread.Sleep(1);
            t_returned = Stopwatch.GetTimestamp();
            t_waited += t_returned - now;
        }
        else
        {
            t_returned = now;
        }

        return 1;
    }

    private static class NativeMethods
    {
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate int BusyCallback(nint argument, int count);

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int sqlite3_busy_handler(nint db, BusyCallback callback, nint argument);
    }

    /// <summary>
    /// Why no file can be created in the database's folder (the run's lock file, SQLite's journal or WAL files), or null
    /// when one can. The probe file is removed as it is closed; the database itself is never opened here. Used by
    /// <see cref="Translate(SqliteException, string)"/> and by the Source.Writable check.
    /// </summary>
    internal static string? FolderProblem(string fullPath)
    {
        try
        {
            using var probe = new FileStream(Path.Combine(Path.GetDirectoryName(fullPath) ?? ".", $".dbsync-probe-{Guid.NewGuid():N}"),
                FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            return null;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return ex.Message;
        }
    }

    /// <summary>Turns a SQLite failure into a DbSyncException with a stable id.</summary>
    public static DbSyncException Translate(SqliteException ex, string fullPath)
    {
        ArgumentNullException.ThrowIfNull(ex);
        var waited = t_gaveUpAfter;
        t_gaveUpAfter = 0;
        return (ex.SqliteErrorCode & 0xFF) switch
        {
            SQLitePCL.raw.SQLITE_NOTADB => new DbSyncException(ErrorIds.SourceNotSqlite, DbSyncErrorCategory.InvalidData,
                $"'{fullPath}' is not a SQLite database: {ex.Message}", fullPath, ex),
            SQLitePCL.raw.SQLITE_CORRUPT => new DbSyncException(ErrorIds.SourceCorrupt, DbSyncErrorCategory.InvalidData,
                $"The SQLite database '{fullPath}' is damaged: {ex.Message}", fullPath, ex),
            SQLitePCL.raw.SQLITE_READONLY or SQLitePCL.raw.SQLITE_PERM or SQLitePCL.raw.SQLITE_CANTOPEN => new DbSyncException(
                ErrorIds.SourceReadOnly, DbSyncErrorCategory.PermissionDenied,
                // SQLite's "attempt to write a readonly database" blamed a file the account may write when only the folder
                // refused SQLite's journal or WAL files (ops exploration, F8).
                FolderProblem(fullPath) is not null
                    ? $"The SQLite database '{fullPath}' cannot be written: its folder '{Path.GetDirectoryName(fullPath) ?? "."}' does not let the account that runs DbSync create files, and SQLite keeps its journal (or, in WAL mode, its -wal and -shm files) beside the database ({ex.Message}). Let that account write the folder."
                    : $"The SQLite database '{fullPath}' cannot be written: {ex.Message}", fullPath, ex),
            SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED => new DbSyncException(ErrorIds.SourceBusy, DbSyncErrorCategory.OperationTimeout,
                // Only sync, enable, disable, reset-node and quarantine --retry take --busy-timeout; the read-only commands wait
                // a fixed time of their own (2 to 30 s), and "the busy timeout" named an option they do not have (contract exploration, F3).
                // The wait is said in seconds when this thread's handler gave it up; the range, "up to 30 s", told a
                // user of status (5 s) or test (2 s) nothing of how long it had waited (stop 22's left-alone list).
                waited > 0
                    ? $"The SQLite database '{fullPath}' stayed locked by another program for the whole {waited} s DbSync waited for its lock (--busy-timeout sets that wait where the command takes it): {ex.Message}"
                    : $"The SQLite database '{fullPath}' stayed locked by another program longer than DbSync waits for a lock (--busy-timeout where the command takes it; status, log, test, restore-log and the quarantine listing wait up to 30 s): {ex.Message}", fullPath, ex),
            SQLitePCL.raw.SQLITE_FULL or SQLitePCL.raw.SQLITE_IOERR => new DbSyncException(ErrorIds.SourceError, DbSyncErrorCategory.WriteError,
                $"The SQLite database '{fullPath}' could not be written (disk full or I/O error): {ex.Message}", fullPath, ex),
            // A table dropped or renamed by another program between the run's reading of the schema and of the rows (an
            // ORM's migration under sync --watch) surfaced as SQLite's bare words (capture exploration 2, F4's minor part).
            SQLitePCL.raw.SQLITE_ERROR when ex.Message.Contains("no such table", StringComparison.Ordinal) || ex.Message.Contains("no such column", StringComparison.Ordinal)
                => new DbSyncException(ErrorIds.SourceError, DbSyncErrorCategory.NotSpecified,
                    $"SQLite failed on '{fullPath}': {ex.Message.TrimEnd('.')}. If another program was changing the file's tables at the time (a migration dropping, renaming or rebuilding one), run again once it is done.", fullPath, ex),
            _ => new DbSyncException(ErrorIds.SourceError, DbSyncErrorCategory.NotSpecified,
                $"SQLite failed on '{fullPath}': {ex.Message}", fullPath, ex),
        };
    }
}
