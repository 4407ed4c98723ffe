namespace DbSync.Core;

/// <summary>What kind of failure a <see cref="DbSyncException"/> is; maps one to one onto PowerShell's ErrorCategory.</summary>
public enum DbSyncErrorCategory
{
    /// <summary>A file, table or other named thing does not exist.</summary>
    ObjectNotFound,
    /// <summary>An argument or option has a value that cannot be used.</summary>
    InvalidArgument,
    /// <summary>Data has a form that cannot be processed (not SQLite, corrupt, a value that does not fit).</summary>
    InvalidData,
    /// <summary>The run cannot proceed in the current state (pending changes, another run holds the lock).</summary>
    InvalidOperation,
    /// <summary>Access was refused (wrong password, no permission).</summary>
    PermissionDenied,
    /// <summary>A server could not be reached or a connection broke.</summary>
    ConnectionError,
    /// <summary>A wait ran out.</summary>
    OperationTimeout,
    /// <summary>Source and target disagree about a table's shape.</summary>
    MetadataError,
    /// <summary>Writing to a database failed.</summary>
    WriteError,
    /// <summary>The operation was stopped by the user.</summary>
    OperationStopped,
    /// <summary>Anything else.</summary>
    NotSpecified,
}

/// <summary>
/// A failure DbSync can name. <see cref="ErrorId"/> is stable across versions so that scripts, the CLI's JSON and
/// PowerShell ErrorRecords can be matched on it.
/// </summary>
public class DbSyncException : Exception
{
    /// <summary>Creates an exception with a stable error id.</summary>
    /// <remarks>
    /// The message and target are redacted (<see cref="Secrets.Redact"/>) whatever their source: a connection string given
    /// where another value belongs (a --table pattern, a stray argument) was quoted in them, password and all, and from a
    /// run's failure reached the run log (ops exploration, F5). Values are redacted where they are quoted as well, so
    /// that the words after them survive.
    /// </remarks>
    public DbSyncException(string errorId, DbSyncErrorCategory category, string message, string? target = null, Exception? inner = null)
        : base(Secrets.Redact(message), inner)
    {
        ErrorId = errorId;
        Category = category;
        Target = target is null ? null : Secrets.Redact(target);
    }

    /// <summary>The stable identifier, for example <c>DbSync.SourceNotFound</c>.</summary>
    public string ErrorId { get; }

    /// <summary>The kind of failure.</summary>
    public DbSyncErrorCategory Category { get; }

    /// <summary>The thing the error is about (a path, a table, a host), never containing a password.</summary>
    public string? Target { get; }

    /// <summary>The run the failure ended, when a run had started (its log entry carries the same id).</summary>
    public Guid? RunId { get; internal set; }

    /// <summary>
    /// For <see cref="ErrorIds.BookkeepingFailed"/>: what PostgreSQL committed of the run (its true counts, all tables and
    /// per table), which the file could not record; null for every other failure, which applied nothing.
    /// </summary>
    public SyncResult? Committed { get; internal set; }
}

/// <summary>The stable error ids DbSync reports. Documented in docs/cli.md.</summary>
public static class ErrorIds
{
    /// <summary>An option or argument is missing or malformed.</summary>
    public const string UsageError = "DbSync.UsageError";
    /// <summary>The SQLite file does not exist.</summary>
    public const string SourceNotFound = "DbSync.SourceNotFound";
    /// <summary>The path names something that is not a regular file (a directory, for example).</summary>
    public const string SourceNotAFile = "DbSync.SourceNotAFile";
    /// <summary>The file is not a SQLite database (empty, text, wrong header).</summary>
    public const string SourceNotSqlite = "DbSync.SourceNotSqlite";
    /// <summary>The SQLite file is damaged (truncated, corrupted pages).</summary>
    public const string SourceCorrupt = "DbSync.SourceCorrupt";
    /// <summary>The SQLite file cannot be opened for writing (read-only file or folder).</summary>
    public const string SourceReadOnly = "DbSync.SourceReadOnly";
    /// <summary>The SQLite file stayed locked by another program for longer than the busy timeout.</summary>
    public const string SourceBusy = "DbSync.SourceBusy";
    /// <summary>Any other SQLite failure.</summary>
    public const string SourceError = "DbSync.SourceError";
    /// <summary>No PostgreSQL connection string was given.</summary>
    public const string ConnectionMissing = "DbSync.ConnectionMissing";
    /// <summary>The connection string does not parse (unknown key, bad value).</summary>
    public const string InvalidConnectionString = "DbSync.InvalidConnectionString";
    /// <summary>The PostgreSQL host does not answer or refuses connections.</summary>
    public const string TargetUnreachable = "DbSync.TargetUnreachable";
    /// <summary>PostgreSQL refused the credentials.</summary>
    public const string AuthenticationFailed = "DbSync.AuthenticationFailed";
    /// <summary>The PostgreSQL role lacks a permission DbSync needs.</summary>
    public const string PermissionDenied = "DbSync.PermissionDenied";
    /// <summary>The PostgreSQL database named in the connection string does not exist.</summary>
    public const string TargetDatabaseNotFound = "DbSync.TargetDatabaseNotFound";
    /// <summary>Any other PostgreSQL failure.</summary>
    public const string TargetError = "DbSync.TargetError";
    /// <summary>Another run holds the file's lock for longer than the lock timeout.</summary>
    public const string LockTimeout = "DbSync.LockTimeout";
    /// <summary>A --table pattern matched no table.</summary>
    public const string TableNotFound = "DbSync.TableNotFound";
    /// <summary>A target table or column differs from the source (missing column, incompatible type, other key).</summary>
    public const string SchemaMismatch = "DbSync.SchemaMismatch";
    /// <summary>A source table changed in a way DbSync cannot follow (a column dropped or renamed, the key changed).</summary>
    public const string SchemaChanged = "DbSync.SchemaChanged";
    /// <summary>
    /// A column's PostgreSQL name is one PostgreSQL or DbSync keeps for itself (xmin, ctid ..., or a name beginning with
    /// _dbsync_): that table is skipped, the others go on.
    /// </summary>
    public const string ReservedName = "DbSync.ReservedName";
    /// <summary>
    /// A primary key column compares under a collation only the application's own connections register (Android's
    /// LOCALIZED, an ICU or ORM collation): DbSync cannot read that table's changes, so it is skipped, the others go on.
    /// </summary>
    public const string UnknownCollation = "DbSync.UnknownCollation";
    /// <summary>
    /// A table has more columns than PostgreSQL's 1,600 less the columns a push's staging table adds: that table is
    /// skipped, the others go on.
    /// </summary>
    public const string TableTooWide = "DbSync.TableTooWide";
    /// <summary>A table or column name is longer than PostgreSQL's 63-byte limit.</summary>
    public const string NameTooLong = "DbSync.NameTooLong";
    /// <summary>A value cannot be stored in the target column's type without changing it.</summary>
    public const string ValueNotConvertible = "DbSync.ValueNotConvertible";
    /// <summary>PostgreSQL rejected the data because of a foreign key (the SQLite data has orphans).</summary>
    public const string ForeignKeyViolation = "DbSync.ForeignKeyViolation";
    /// <summary>Changes are pending and the operation would discard them (disable without --force).</summary>
    public const string PendingChanges = "DbSync.PendingChanges";
    /// <summary>Another SQLite file (a copy) already syncs under this file's node id; run reset-node on the copy.</summary>
    public const string DuplicateNodeId = "DbSync.DuplicateNodeId";
    /// <summary>The Newest policy names a column that a synced table does not have.</summary>
    public const string NewestColumnMissing = "DbSync.NewestColumnMissing";
    /// <summary>PostgreSQL committed but the SQLite bookkeeping could not be written; the next run re-applies harmlessly.</summary>
    public const string BookkeepingFailed = "DbSync.BookkeepingFailed";
    /// <summary>The SQLite file was made by a newer DbSync whose bookkeeping this version cannot read.</summary>
    public const string NewerSchemaVersion = "DbSync.NewerSchemaVersion";
    /// <summary>The run log backup file given to restore-log does not exist.</summary>
    public const string LogBackupNotFound = "DbSync.LogBackupNotFound";
    /// <summary>The run log backup file given to restore-log exists but cannot be read (permissions, an I/O error).</summary>
    public const string LogBackupUnreadable = "DbSync.LogBackupUnreadable";
    /// <summary>
    /// Not a run failure: rows of a table were held back in a run that committed the rest (quarantined, or a conflict
    /// the Fail policy left). Start-DbSync writes it as a non-terminating error per table; dbsync exits 3.
    /// </summary>
    public const string RowsHeld = "DbSync.RowsHeld";

    /// <summary>The run was cancelled (Ctrl+C, SIGTERM, StopProcessing).</summary>
    public const string Cancelled = "DbSync.Cancelled";
    /// <summary>Something unexpected; the message says what.</summary>
    public const string Unexpected = "DbSync.Unexpected";
}

/// <summary>
/// A sync was cancelled (Ctrl+C, SIGTERM, a stopped pipeline): nothing of it was applied. An
/// <see cref="OperationCanceledException"/>, so whatever stops on cancellation still does; it also carries the run's id,
/// under which the run log records it as Cancelled.
/// </summary>
public sealed class RunCancelledException : OperationCanceledException
{
    internal RunCancelledException(Guid runId, Exception inner, CancellationToken token)
        : base("The run was cancelled; nothing of it was applied.", inner, token) => RunId = runId;

    /// <summary>The cancelled run's id.</summary>
    public Guid RunId { get; }

    /// <summary>The error a front end reports for it: <c>DbSync.Cancelled</c>, with the run id.</summary>
    public DbSyncException ToError() => new(ErrorIds.Cancelled, DbSyncErrorCategory.OperationStopped, Message) { RunId = RunId };
}
