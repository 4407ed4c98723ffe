using System.Net;
using DbSync.Core.Bookkeeping;

namespace DbSync.Core.Diagnostics;

/// <summary>What a sync would do, table by table (PowerShell's -WhatIf). Computing it changes nothing.</summary>
public sealed class SyncPlan
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>host:port/database as user.</summary>
    public required string Target { get; init; }

    /// <summary>Tables in the order they would be applied (parents first).</summary>
    public required IReadOnlyList<TablePlanInfo> Tables { get; init; }

    /// <summary>Tables that would not be synced, and why.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }
}

/// <summary>One table of a <see cref="SyncPlan"/>.</summary>
public sealed class TablePlanInfo
{
    /// <summary>1-based position in the apply order.</summary>
    public int Order { get; init; }

    /// <summary>Source table.</summary>
    public required string Name { get; init; }

    /// <summary>Target table, quoted and schema-qualified.</summary>
    public required string Target { get; init; }

    /// <summary>InitialLoad, FullCopy, Resync or Push.</summary>
    public required string Mode { get; init; }

    /// <summary>The target table would be created.</summary>
    public bool CreateTarget { get; init; }

    /// <summary>Pending rows that are new since the last sync.</summary>
    public long PendingInserts { get; init; }

    /// <summary>Pending rows that changed.</summary>
    public long PendingUpdates { get; init; }

    /// <summary>Pending rows that were deleted.</summary>
    public long PendingDeletes { get; init; }

    /// <summary>Rows a full copy would send (0 for a push).</summary>
    public long Rows { get; init; }

    /// <summary>Why the table would be skipped.</summary>
    public string? Reason { get; init; }
}

/// <summary>What <c>dbsync status</c> / Get-DbSyncStatus looks at.</summary>
public sealed class StatusRequest
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>The target, to check it is reachable; null skips the check.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>User name and password that override the connection string's.</summary>
    public NetworkCredential? Credential { get; init; }

    /// <summary>Include one entry per table.</summary>
    public bool Detailed { get; init; }

    /// <summary>How long the target check may take; status never hangs.</summary>
    public TimeSpan TargetTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The backup that says how a last run still recorded Running ended; default DBSYNC_LOG_PATH, else the file's own.
    /// A caller with its own notion of the current folder (PowerShell's location) passes DBSYNC_LOG_PATH resolved.
    /// </summary>
    public string? BackupPath { get; init; }
}

/// <summary>The state of one SQLite file. Reading it changes neither database.</summary>
public sealed class DatabaseStatus
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>The file's node id; null when capture was never enabled.</summary>
    public string? NodeId { get; init; }

    /// <summary>Capture is installed.</summary>
    public bool CaptureEnabled { get; init; }

    /// <summary>Every captured table's triggers are present and as DbSync wrote them.</summary>
    public bool TriggersIntact { get; init; }

    /// <summary>Distinct rows waiting to be pushed, all tables.</summary>
    public long PendingChanges { get; init; }

    /// <summary>Age of the oldest pending change; null when nothing is pending.</summary>
    public TimeSpan? Lag { get; init; }

    /// <summary>Rows held back: poison rows and conflicts left pending by the Fail policy (see dbsync quarantine).</summary>
    public long Quarantined { get; init; }

    /// <summary>The newest run in the run log.</summary>
    public RunLogEntry? LastRun { get; init; }

    /// <summary>True or false after a target check; null when no connection string was given.</summary>
    public bool? TargetReachable { get; init; }

    /// <summary>Why the target is not reachable.</summary>
    public string? TargetError { get; init; }

    /// <summary>Stable error id of the target failure.</summary>
    public string? TargetErrorId { get; init; }

    /// <summary>Per table, with Detailed.</summary>
    public IReadOnlyList<TableStatus> Tables { get; init; } = [];

    /// <summary>
    /// Captured tables that no longer exist in SQLite (dropped or renamed), whose capture every sync warns of until
    /// <c>disable --table</c> removes it; with the changes their logs hold, which no run sends (not in <see cref="PendingChanges"/>).
    /// </summary>
    public IReadOnlyList<VanishedTable> VanishedTables { get; init; } = [];

    /// <summary>One line for logs: the file, capture, what is pending and the last run.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Path}: capture {(CaptureEnabled ? "enabled" : "not enabled")}, {PendingChanges} pending, last run {LastRun?.Status.ToString() ?? "none"}");
}

/// <summary>The state of one table.</summary>
public sealed class TableStatus
{
    /// <summary>The SQLite file, as on <see cref="DatabaseStatus"/>: piped on, it names the file and not the table.</summary>
    public string Path { get; init; } = "";

    /// <summary>Source table.</summary>
    public required string Name { get; init; }

    /// <summary>Capture is installed on it.</summary>
    public bool Captured { get; init; }

    /// <summary>Its triggers are present and current.</summary>
    public bool TriggersIntact { get; init; }

    /// <summary>Distinct rows waiting.</summary>
    public long PendingChanges { get; init; }

    /// <summary>Rows of this table held back (poison rows, conflicts left by the Fail policy).</summary>
    public long Quarantined { get; init; }

    /// <summary>Age of its oldest pending change.</summary>
    public TimeSpan? Lag { get; init; }

    /// <summary>It has been copied in full to PostgreSQL.</summary>
    public bool Loaded { get; init; }

    /// <summary>Why it is not captured (no primary key, virtual table), or what is wrong.</summary>
    public string? Reason { get; init; }

    /// <summary>The table and what is pending.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Name}: {PendingChanges} pending");
}

/// <summary>What Test-DbSyncConnection / <c>dbsync test</c> checks.</summary>
public sealed class ConnectionTestRequest
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>The target; null checks the source only.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>User name and password that override the connection string's.</summary>
    public NetworkCredential? Credential { get; init; }

    /// <summary>Target schema.</summary>
    public string Schema { get; init; } = "public";

    /// <summary>Table patterns, as for sync.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>Create PostgreSQL names exactly as in SQLite.</summary>
    public bool PreserveCase { get; init; }

    /// <summary>How long the target connection may take.</summary>
    public TimeSpan TargetTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>Outcome of one check.</summary>
public enum CheckStatus
{
    /// <summary>All is well.</summary>
    Pass,
    /// <summary>Sync works but something deserves attention.</summary>
    Warning,
    /// <summary>Sync would fail or lose fidelity.</summary>
    Fail,
}

/// <summary>One check of Test-DbSyncConnection.</summary>
public sealed class CheckResult
{
    /// <summary>Stable check name, such as <c>Source.Exists</c> or <c>Target.Authentication</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Pass, Warning or Fail.</summary>
    public CheckStatus Status { get; init; }

    /// <summary>What was found, naming the table or column concerned.</summary>
    public required string Message { get; init; }

    /// <summary>What to do about it, when not Pass.</summary>
    public string? Fix { get; init; }

    /// <summary>The file, table or host the check is about.</summary>
    public string? Target { get; init; }

    /// <summary>Stable error id when the check maps onto one.</summary>
    public string? ErrorId { get; init; }

    /// <summary>The check's status, name and message.</summary>
    public override string ToString() => $"{Status} {Name}: {Message}";
}

/// <summary>A captured table that no longer exists in SQLite.</summary>
/// <param name="Name">Its name when it was captured.</param>
/// <param name="LoggedChanges">The changes its log still holds, which no run sends.</param>
public sealed record VanishedTable(string Name, long LoggedChanges);
