namespace DbSync.Core;

/// <summary>How a run ended.</summary>
public enum SyncStatus
{
    /// <summary>Every selected table is in step.</summary>
    Succeeded,
    /// <summary>
    /// Some tables were synced, others skipped with an error (see each table's result), or some rows were quarantined
    /// or left as unresolved conflicts; everything else committed.
    /// </summary>
    PartiallySucceeded,
    /// <summary>Nothing was applied to PostgreSQL, or it was applied but could not be recorded.</summary>
    Failed,
    /// <summary>Stopped by the user; nothing of the run was applied.</summary>
    Cancelled,
}

/// <summary>What a sync run should do. Mirrors the options of <c>dbsync sync</c> and the parameters of Start-DbSync.</summary>
public sealed class SyncRequest
{
    /// <summary>The SQLite file. It must exist.</summary>
    public required string Path { get; init; }

    /// <summary>Npgsql connection string. PGPASSWORD and pgpass files are honoured when it carries no password.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>User name and password that override the connection string's (PowerShell's -Credential).</summary>
    public System.Net.NetworkCredential? Credential { get; init; }

    /// <summary>PostgreSQL schema for the synced tables; created when missing.</summary>
    public string Schema { get; init; } = "public";

    /// <summary>Table name patterns (<c>*</c>, <c>?</c>, case-insensitive). Empty means every table.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>Rows per apply statement and per progress report; bounds the size of each statement.</summary>
    public int BatchSize { get; init; } = 10_000;

    /// <summary>Copy the selected tables again in full, making each target table equal to the source table.</summary>
    public bool Resync { get; init; }

    /// <summary>Create PostgreSQL names exactly as in SQLite instead of lower-casing them.</summary>
    public bool PreserveCase { get; init; }

    /// <summary>How long to wait for another run on the same file to finish.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a statement waits for a SQLite lock held by another program.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The run log's JSON-lines backup; default DBSYNC_LOG_PATH, else FILE-dbsync-log.jsonl beside the database.</summary>
    public string? LogPath { get; init; }

    /// <summary>After a successful run, remove run log entries older than this many days from the database.</summary>
    public int? KeepDays { get; init; }

    /// <summary>With <see cref="KeepDays"/>, also remove them from the backup file.</summary>
    public bool PruneBackup { get; init; }

    /// <summary>What to do when a target row was changed by another writer since this node last synced it.</summary>
    public ConflictPolicy ConflictPolicy { get; init; } = ConflictPolicy.SourceWins;

    /// <summary>With <see cref="ConflictPolicy.Newest"/>: the timestamp (or any ordered) column that says which version is newer.</summary>
    public string? NewestColumn { get; init; }

    /// <summary>
    /// Table name patterns whose rows each node owns: their target tables get a <c>dbsync_node</c> column holding the
    /// node id, first in the primary key, so nodes whose keys overlap never touch each other's rows.
    /// </summary>
    public IReadOnlyList<string> NodePartitioned { get; init; } = [];

    /// <summary>Keep the PostgreSQL connection for the next run (continuous mode): a new one costs a SCRAM handshake.</summary>
    internal bool ReuseConnection { get; init; }

    /// <summary>A copy that keeps its PostgreSQL connection between runs.</summary>
    internal SyncRequest WithReusedConnection() => new()
    {
        Path = Path, ConnectionString = ConnectionString, Credential = Credential, Schema = Schema, Tables = Tables, BatchSize = BatchSize,
        Resync = Resync, PreserveCase = PreserveCase, LockTimeout = LockTimeout, BusyTimeout = BusyTimeout, LogPath = LogPath,
        KeepDays = KeepDays, PruneBackup = PruneBackup, ConflictPolicy = ConflictPolicy, NewestColumn = NewestColumn,
        NodePartitioned = NodePartitioned, ReuseConnection = true,
    };

    /// <summary>The same request for other tables.</summary>
    internal SyncRequest ForTables(IReadOnlyList<string> tables) => new()
    {
        Path = Path, ConnectionString = ConnectionString, Credential = Credential, Schema = Schema, Tables = tables, BatchSize = BatchSize,
        Resync = Resync, PreserveCase = PreserveCase, LockTimeout = LockTimeout, BusyTimeout = BusyTimeout, LogPath = LogPath,
        KeepDays = KeepDays, PruneBackup = PruneBackup, ConflictPolicy = ConflictPolicy, NewestColumn = NewestColumn,
        NodePartitioned = NodePartitioned, ReuseConnection = ReuseConnection,
    };
}

/// <summary>Enables capture without syncing. Mirrors <c>dbsync enable</c>.</summary>
public sealed class EnableRequest
{
    /// <summary>The SQLite file. It must exist.</summary>
    public required string Path { get; init; }

    /// <summary>Table name patterns; empty means every table.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>How long to wait for another run on the same file to finish.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a statement waits while another program holds a lock on the SQLite file; 0 fails within about a
    /// second. Cancelling the operation ends the wait at once.
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Removes capture. Mirrors <c>dbsync disable</c>.</summary>
public sealed class DisableRequest
{
    /// <summary>The SQLite file. It must exist.</summary>
    public required string Path { get; init; }

    /// <summary>Disable even though changes are still pending (they are discarded).</summary>
    public bool Force { get; init; }

    /// <summary>Also remove the run history and node id: nothing of DbSync stays in the file.</summary>
    public bool Purge { get; init; }

    /// <summary>
    /// Table name patterns (* and ?): remove capture from the captured tables they match only (a table since dropped or
    /// renamed in SQLite included), keeping the file's node id, run history and the other tables' capture. Empty: every table.
    /// </summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>How long to wait for another run on the same file to finish.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a statement waits while another program holds a lock on the SQLite file; 0 fails within about a
    /// second. Cancelling the operation ends the wait at once.
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>What one table did in a run.</summary>
public sealed class TableSyncResult
{
    /// <summary>Source table name.</summary>
    public required string Name { get; init; }

    /// <summary>Target table, schema-qualified.</summary>
    public required string Target { get; init; }

    /// <summary>Rows inserted into PostgreSQL.</summary>
    public long Inserted { get; internal set; }

    /// <summary>Rows whose values changed in PostgreSQL.</summary>
    public long Updated { get; internal set; }

    /// <summary>Rows deleted from PostgreSQL.</summary>
    public long Deleted { get; internal set; }

    /// <summary>Conflicts detected: target rows another writer changed since this node last synced them.</summary>
    public long Conflicts { get; internal set; }

    /// <summary>Conflicts resolved by the policy (all but those left pending by <see cref="ConflictPolicy.Fail"/>).</summary>
    public long ConflictsResolved { get; internal set; }

    /// <summary>Rows PostgreSQL would not accept (or DbSync could not convert), left pending with their reason.</summary>
    public long Quarantined { get; internal set; }

    /// <summary>The target table carries a <c>dbsync_node</c> column: each node owns its rows.</summary>
    public bool NodePartitioned { get; internal set; }

    /// <summary>Initial load, full copy or incremental push.</summary>
    public string Mode { get; internal set; } = "Push";

    /// <summary>Succeeded, or Failed when the table was skipped.</summary>
    public SyncStatus Status { get; internal set; } = SyncStatus.Succeeded;

    /// <summary>Why the table was skipped.</summary>
    public string? ErrorId { get; internal set; }

    /// <summary>The kind of failure that skipped the table.</summary>
    public DbSyncErrorCategory? Category { get; internal set; }

    /// <summary>Human-readable reason the table was skipped.</summary>
    public string? Message { get; internal set; }

    /// <summary>The table's name: what PowerShell shows for an error about the table (its CategoryInfo).</summary>
    public override string ToString() => Name;
}

/// <summary>The outcome of a sync run.</summary>
public sealed class SyncResult
{
    /// <summary>Identifies the run in the run log.</summary>
    public Guid RunId { get; init; }

    /// <summary>The SQLite file's node id.</summary>
    public required string NodeId { get; init; }

    /// <summary>How the run ended.</summary>
    public SyncStatus Status { get; internal set; }

    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>host:port/database as user; never a password.</summary>
    public required string Target { get; init; }

    /// <summary>When the run started (UTC).</summary>
    public DateTime StartedAt { get; init; }

    /// <summary>When the run finished (UTC).</summary>
    public DateTime FinishedAt { get; internal set; }

    /// <summary>The push's foreign keys were checked by DbSync once per key rather than by PostgreSQL's triggers row by row.</summary>
    internal bool ForeignKeysBatched { get; set; }

    /// <summary>
    /// The change-log entries of the selected tables that the run saw and left pending (held rows, tables skipped),
    /// counted in the transaction that forgot the synced ones: continuous mode waits for more entries than these.
    /// </summary>
    internal long ChangeLogEntriesLeft { get; set; }

    /// <summary>Wall time of the run.</summary>
    public TimeSpan Duration => FinishedAt - StartedAt;

    /// <summary>Rows inserted, all tables.</summary>
    public long Inserted => Tables.Sum(t => t.Inserted);

    /// <summary>Rows updated, all tables.</summary>
    public long Updated => Tables.Sum(t => t.Updated);

    /// <summary>Rows deleted, all tables.</summary>
    public long Deleted => Tables.Sum(t => t.Deleted);

    /// <summary>Per-table outcome, in the order the tables were applied (parents first).</summary>
    public IReadOnlyList<TableSyncResult> Tables { get; internal set; } = [];

    /// <summary>Things the user should know that did not stop the run (tables without a key, skipped foreign keys).</summary>
    public IReadOnlyList<string> Warnings { get; internal set; } = [];

    /// <summary>Conflicts detected, all tables.</summary>
    public long Conflicts => Tables.Sum(t => t.Conflicts);

    /// <summary>Conflicts resolved by policy, all tables.</summary>
    public long ConflictsResolved => Tables.Sum(t => t.ConflictsResolved);

    /// <summary>Rows quarantined in this run, all tables: they stay pending and are tried again on every run.</summary>
    public long Quarantined => Tables.Sum(t => t.Quarantined);

    /// <summary>Where the run's log entry was written.</summary>
    public Bookkeeping.RunLogOutcome Log { get; } = new();

    /// <summary>One line for logs and <c>"$result"</c>: the status, the counts, the duration and the file.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Status}: {Inserted} inserted, {Updated} updated, {Deleted} deleted{(Quarantined > 0 ? $", {Quarantined} quarantined" : "")}{(Conflicts > 0 ? $", {Conflicts} conflict(s)" : "")} in {Duration.TotalSeconds:0.00} s ({Path})");
}

/// <summary>Phases reported through <see cref="SyncProgress"/>.</summary>
public enum SyncPhase
{
    /// <summary>Checking the source, the target and the schemas (reported once for the run, table empty).</summary>
    Preparing,
    /// <summary>Copying a whole table.</summary>
    Copying,
    /// <summary>Sending a table's pending changes.</summary>
    Staging,
    /// <summary>
    /// Applying staged changes in PostgreSQL, reported after each batch (rows: the table's rows inserted and updated so
    /// far; its deletes come after every table's inserts and updates, with no report of their own).
    /// </summary>
    Applying,
    /// <summary>Marking changes synced in SQLite (reported once for the run, table empty).</summary>
    Recording,
    /// <summary>
    /// PostgreSQL committing the run's transaction, which is when it checks the deferred foreign keys of the rows
    /// written, unless the push checked them itself (reported once for the run, table empty; rows: the rows written).
    /// </summary>
    Committing,
    /// <summary>
    /// A push checking its foreign keys itself, one statement per key, after its last write (docs/capture.md; reported
    /// once for the run, table empty; rows: the number of foreign-key checks).
    /// </summary>
    Checking,
}

/// <summary>Progress of a run, reported per table and every few thousand rows.</summary>
/// <param name="Table">The source table being worked on, or empty.</param>
/// <param name="Phase">What is being done.</param>
/// <param name="Rows">Rows done in this phase of this table.</param>
/// <param name="TableIndex">1-based index of the table.</param>
/// <param name="TableCount">Number of tables in the run.</param>
/// <param name="Elapsed">Time since the phase of this table began.</param>
public sealed record SyncProgress(string Table, SyncPhase Phase, long Rows, int TableIndex, int TableCount, TimeSpan Elapsed)
{
    /// <summary>Rows per second in this phase.</summary>
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? Rows / Elapsed.TotalSeconds : 0;

    /// <summary>
    /// How far the whole run is, 0 to 100, never going down: the tables' reads and applies by rows (estimated before a
    /// table is read) up to 95, then the foreign-key check, the commit (99) and the bookkeeping (100); -1 while
    /// preparing, when the tables are not known yet.
    /// </summary>
    public int PercentComplete { get; init; } = -1;
}

/// <summary>The outcome of enable or disable.</summary>
public sealed class CaptureResult
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>The node id (null after a purge).</summary>
    public string? NodeId { get; init; }

    /// <summary>Tables captured (enable) or released (disable).</summary>
    public required IReadOnlyList<string> Tables { get; init; }

    /// <summary>Changes that were pending and discarded (disable --force).</summary>
    public long DiscardedChanges { get; init; }

    /// <summary>Things the user should know (tables without a key).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The outcome of disable (the tables are the ones it released), not of enable.</summary>
    internal bool Disabled { get; init; }

    /// <summary>The file and how many tables it captures, or, after disable, how many it released and the changes it discarded.</summary>
    public override string ToString() => Disabled
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{Path}: capture disabled, {Tables.Count} table(s) released{(DiscardedChanges > 0 ? $", {DiscardedChanges} pending change(s) discarded" : "")}")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Path}: {Tables.Count} table(s) captured");
}
