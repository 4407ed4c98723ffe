using System.Management.Automation;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// A DbSync cmdlet that runs syncs: the parameters Start-DbSync and Get-DbSyncQuarantine -Retry share, declared once,
/// their mapping to a Core <see cref="SyncRequest"/>, and how a finished run is written to the pipeline.
/// </summary>
public abstract class DbSyncSyncCommand : DbSyncTargetCommand
{
    // Stored boxed: a ConflictPolicy field would make PowerShell load DbSync.Core while it reflects over the cmdlet
    // classes at import, before ModuleInitializer has routed Core into the module's load context.
    private object? _conflictPolicy;

    /// <summary>PostgreSQL schema for the tables; created when missing. dbsync, information_schema and pg_ names are refused.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Schema { get; set; } = "public";

    /// <summary>Only matching tables (* and ? match, case-insensitively). Default: every table.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Table { get; set; } = [];

    /// <summary>Rows per apply statement and per progress step.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int BatchSize { get; set; } = 10_000;

    /// <summary>Create PostgreSQL names exactly as in SQLite instead of lower-casing them.</summary>
    [Parameter]
    public SwitchParameter PreserveCase { get; set; }

    /// <summary>Seconds to wait while another run holds the file's lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int LockTimeout { get; set; } = 30;

    /// <summary>Seconds a statement waits while another program holds a SQLite lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int BusyTimeout { get; set; } = 30;

    /// <summary>The run log's JSON-lines backup; default DBSYNC_LOG_PATH, else FILE-dbsync-log.jsonl beside the file.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? LogPath { get; set; }

    /// <summary>What to do with a target row another writer changed since this node last synced it: SourceWins (default), TargetWins, Newest or Fail, by name (a number or a list is refused).</summary>
    [Parameter]
    [StrictEnum(typeof(ConflictPolicy), nameof(ConflictPolicy))]
    public ConflictPolicy ConflictPolicy
    {
        get => _conflictPolicy is ConflictPolicy policy ? policy : ConflictPolicy.SourceWins;
        set => _conflictPolicy = value;
    }

    /// <summary>With -ConflictPolicy Newest: the column (a timestamp, or anything ordered) whose larger value wins.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NewestColumn { get; set; }

    /// <summary>Tables (* and ?) whose rows each node owns: the target table gets a dbsync_node column, first in its primary key.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] NodePartitioned { get; set; } = [];

    /// <summary>Stops before any file is touched when -ConflictPolicy and -NewestColumn do not go together.</summary>
    private protected void CheckConflictOptions()
    {
        if (ConflictOptions.Check(ConflictPolicy, NewestColumn) is { } conflictError)
        {
            ThrowTerminatingError(Errors.Usage(conflictError, null));
        }
    }

    /// <summary>-LogPath resolved against PowerShell's location, or null.</summary>
    private protected string? ResolvedLogPath => LogPathOrDefault(LogPath, nameof(LogPath));

    /// <summary>The Core request for one file: exactly the parameters, nothing decided here.</summary>
    /// <param name="path">The resolved SQLite file.</param>
    /// <param name="logPath">-LogPath resolved against PowerShell's location.</param>
    /// <param name="resync">-Resync (Start-DbSync only).</param>
    /// <param name="keepDays">-KeepDays when given (Start-DbSync only).</param>
    /// <param name="pruneBackup">-PruneBackup (Start-DbSync only).</param>
    private protected SyncRequest BuildSyncRequest(string path, string? logPath, bool resync = false, int? keepDays = null, bool pruneBackup = false) => new()
    {
        Path = path,
        ConnectionString = EffectiveConnectionString ?? "",
        Credential = EffectiveCredential,
        Schema = Schema,
        Tables = Table,
        BatchSize = BatchSize,
        Resync = resync,
        PreserveCase = PreserveCase.IsPresent,
        LockTimeout = TimeSpan.FromSeconds(LockTimeout),
        BusyTimeout = TimeSpan.FromSeconds(BusyTimeout),
        LogPath = logPath,
        KeepDays = keepDays,
        PruneBackup = pruneBackup,
        ConflictPolicy = ConflictPolicy,
        NewestColumn = NewestColumn,
        NodePartitioned = NodePartitioned,
    };

    /// <summary>A finished run on the pipeline: its warnings, the result object, and an error per table it skipped or held rows of.</summary>
    private protected void WriteRun(SyncResult result, string path)
    {
        foreach (var warning in result.Warnings)
        {
            WriteCoreWarning(warning);
        }

        WriteObject(result);
        foreach (var table in result.Tables)
        {
            if (table.Status != SyncStatus.Succeeded)
            {
                WriteError(Errors.ForTable(table, path));
            }
            else if (table.Quarantined > 0 || table.Conflicts > table.ConflictsResolved)
            {
                WriteError(Errors.RowsHeld(table, path));
            }
        }
    }
}
