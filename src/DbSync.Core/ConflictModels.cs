using System.Net;

namespace DbSync.Core;

/// <summary>How a conflict is resolved: a target row that another writer changed, inserted or deleted since this node last synced it.</summary>
public enum ConflictPolicy
{
    /// <summary>The SQLite row wins and is written to PostgreSQL (the default).</summary>
    SourceWins,
    /// <summary>PostgreSQL's row wins; the SQLite row is set to it, without that write being captured again.</summary>
    TargetWins,
    /// <summary>The version with the larger value in the column named by <see cref="SyncRequest.NewestColumn"/> wins; a delete on either side has no timestamp, and the source wins.</summary>
    Newest,
    /// <summary>Nothing is written; the row stays pending and is reported until the conflict is settled by hand.</summary>
    Fail,
}

/// <summary>What the two sides did to a conflicting row.</summary>
public enum ConflictKind
{
    /// <summary>Both sides changed (or inserted) the row, with different values.</summary>
    Changed,
    /// <summary>The row changed in SQLite, but another writer deleted it in PostgreSQL.</summary>
    DeletedInTarget,
    /// <summary>The row was deleted in SQLite, but another writer changed it in PostgreSQL.</summary>
    DeletedLocally,
}

/// <summary>One conflict, as kept in <c>dbsync.conflicts</c> in PostgreSQL.</summary>
public sealed class ConflictRecord
{
    /// <summary>Sequential id in <c>dbsync.conflicts</c>.</summary>
    public long Id { get; init; }

    /// <summary>The run that met the conflict.</summary>
    public Guid RunId { get; init; }

    /// <summary>The node (SQLite file) whose change conflicted.</summary>
    public required string NodeId { get; init; }

    /// <summary>When (UTC).</summary>
    public DateTime At { get; init; }

    /// <summary>The SQLite table.</summary>
    public required string Table { get; init; }

    /// <summary>The PostgreSQL table, schema-qualified.</summary>
    public required string Target { get; init; }

    /// <summary>The row's key as a JSON object (target column names).</summary>
    public required string Key { get; init; }

    /// <summary>What both sides did.</summary>
    public ConflictKind Kind { get; init; }

    /// <summary>The policy that decided.</summary>
    public ConflictPolicy Policy { get; init; }

    /// <summary><c>Source</c>, <c>Target</c>, or <c>None</c> (left pending by the Fail policy).</summary>
    public required string Winner { get; init; }

    /// <summary>The SQLite version of the row as JSON (target column names); null when deleted there.</summary>
    public string? SourceRow { get; init; }

    /// <summary>The PostgreSQL version of the row as JSON before the run; null when deleted there.</summary>
    public string? TargetRow { get; init; }
}

/// <summary>Reads conflict records. Mirrors <c>dbsync conflicts</c> and Get-DbSyncConflict.</summary>
public sealed class ConflictQuery
{
    /// <summary>Npgsql connection string of the target.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>User name and password that override the connection string's.</summary>
    public NetworkCredential? Credential { get; init; }

    /// <summary>Only the conflicts of this SQLite file's node (optional).</summary>
    public string? Path { get; init; }

    /// <summary>Only the conflicts of this node id (optional).</summary>
    public string? NodeId { get; init; }

    /// <summary>Only these SQLite tables (patterns with <c>*</c> and <c>?</c>, case-insensitive); empty means all.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>Only this run's conflicts.</summary>
    public Guid? RunId { get; init; }

    /// <summary>Only conflicts at or after this time.</summary>
    public DateTime? Since { get; init; }

    /// <summary>At most this many, newest first (default 100).</summary>
    public int Last { get; init; } = 100;
}

/// <summary>Why a row is held back.</summary>
public enum HeldKind
{
    /// <summary>PostgreSQL rejected the row, or DbSync could not convert one of its values (a poison row).</summary>
    Quarantined,
    /// <summary>A conflict the Fail policy left for a person to settle, or one whose winning target version the file refused.</summary>
    Conflict,
}

/// <summary>A row held back in the SQLite file: it stays pending and is tried again on every run.</summary>
public sealed record QuarantinedRow
{
    /// <summary>The SQLite table.</summary>
    public required string Table { get; init; }

    /// <summary>The row's key, e.g. <c>(TrackId=5)</c>.</summary>
    public required string Key { get; init; }

    /// <summary>Poison row or unresolved conflict.</summary>
    public HeldKind Kind { get; init; }

    /// <summary>PostgreSQL's error message (with its SQLSTATE), or why DbSync could not convert a value.</summary>
    public required string Reason { get; init; }

    /// <summary>When it was first held (UTC).</summary>
    public DateTime FirstAt { get; init; }

    /// <summary>When it was last tried (UTC).</summary>
    public DateTime LastAt { get; init; }

    /// <summary>How many runs tried it.</summary>
    public long Attempts { get; init; }
}

/// <summary>Lists held rows. Mirrors <c>dbsync quarantine</c> and Get-DbSyncQuarantine.</summary>
public sealed class QuarantineQuery
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>Only these tables (patterns); empty means all.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>How long to wait while another program holds a lock on the file (as <see cref="SyncRequest.BusyTimeout"/>); a cancel ends the wait at once.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Gives a copied SQLite file an identity of its own. Mirrors <c>dbsync reset-node</c> and Reset-DbSyncNode.</summary>
public sealed class ResetNodeRequest
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>How long to wait for another run on the same file to finish.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a statement waits while another program holds a lock on the SQLite file; 0 fails within about a
    /// second. Cancelling the operation ends the wait at once.
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Optional target. When given and PostgreSQL last saw the old node id from a run this file made, the old id is
    /// released there, so that the other file (the original) can go on syncing under it.
    /// </summary>
    public string? ConnectionString { get; init; }

    /// <summary>User name and password that override the connection string's.</summary>
    public NetworkCredential? Credential { get; init; }
}

/// <summary>The outcome of a node reset.</summary>
public sealed class ResetNodeResult
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>The node id the file had (shared with the file it was copied from).</summary>
    public string? PreviousNodeId { get; init; }

    /// <summary>Its new node id.</summary>
    public required string NodeId { get; init; }

    /// <summary>True when the old id was released in PostgreSQL (see <see cref="ResetNodeRequest.ConnectionString"/>).</summary>
    public bool Released { get; init; }

    /// <summary>Tables that will be copied in full on the next run (their rows in PostgreSQL belong to the old identity).</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>One line, as the CLI's: the file, its old and new node id, whether the old one was released, and the tables to copy.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Path}: node {PreviousNodeId ?? "-"} -> {NodeId}{(Released ? " (old id released in PostgreSQL)" : "")}, {Tables.Count} table(s) copied in full on the next sync");
}
