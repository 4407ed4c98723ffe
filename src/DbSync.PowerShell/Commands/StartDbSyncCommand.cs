using System.Globalization;
using System.Management.Automation;
using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Pushes the pending changes of SQLite files to PostgreSQL, enabling capture on first use.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "DbSync", DefaultParameterSetName = PathResolver.PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SyncResult))]
public sealed class StartDbSyncCommand : DbSyncTargetCommand
{
    private int? _keepDays;

    // Stored boxed: a ConflictPolicy field would make PowerShell load DbSync.Core while it reflects over this class
    // at import, before ModuleInitializer has routed Core into the module's load context.
    private object? _conflictPolicy;

    #region Parameters

    /// <summary>PostgreSQL schema for the tables; created when missing.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Schema { get; set; } = "public";

    /// <summary>Sync only matching tables (* and ? match, case-insensitively). Default: every table.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Table { get; set; } = [];

    /// <summary>Rows per apply statement and per progress step.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int BatchSize { get; set; } = 10_000;

    /// <summary>Copy the selected tables again in full, making each target table equal to the SQLite table.</summary>
    [Parameter]
    public SwitchParameter Resync { get; set; }

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

    /// <summary>After a successful run, remove run log entries older than this many days from the database.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int KeepDays
    {
        get => _keepDays ?? 0;
        set => _keepDays = value;
    }

    /// <summary>With -KeepDays, remove those entries from the backup file too.</summary>
    [Parameter]
    public SwitchParameter PruneBackup { get; set; }

    /// <summary>What to do with a target row another writer changed since this node last synced it: SourceWins (default), TargetWins, Newest or Fail.</summary>
    [Parameter]
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

    /// <summary>Keep running: sync on every commit to the file and at least every -Interval seconds, until Ctrl+C.</summary>
    [Parameter]
    public SwitchParameter Continuous { get; set; }

    /// <summary>With -Continuous, the most seconds between runs; it also caps the wait before retrying a failed run.</summary>
    [Parameter]
    [ValidateRange(1, 86_400)]
    public int Interval { get; set; } = 30;

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        if (PruneBackup.IsPresent && _keepDays is null)
        {
            ThrowTerminatingError(Errors.Usage("-PruneBackup needs -KeepDays.", null));
        }

        if (ConflictOptions.Check(ConflictPolicy, NewestColumn) is { } conflictError)
        {
            ThrowTerminatingError(Errors.Usage(conflictError, null));
        }
    }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var files = ResolveFiles();

        if (Continuous.IsPresent && files.Count > 1)
        {
            throw Terminating(Errors.Usage($"-Continuous watches one file, and {files.Count} match; start one Start-DbSync -Continuous per file (for example as separate jobs).", null));
        }

        foreach (var file in files)
        {
            SyncOne(file);
        }
    }

    #endregion

    /// <summary>The Core request for one file: exactly the parameters, nothing decided here.</summary>
    /// <param name="path">The resolved SQLite file.</param>
    /// <param name="logPath">-LogPath resolved against PowerShell's location.</param>
    internal SyncRequest BuildRequest(string path, string? logPath) => new()
    {
        Path = path,
        ConnectionString = EffectiveConnectionString ?? "",
        Credential = EffectiveCredential,
        Schema = Schema,
        Tables = Table,
        BatchSize = BatchSize,
        Resync = Resync.IsPresent,
        PreserveCase = PreserveCase.IsPresent,
        LockTimeout = TimeSpan.FromSeconds(LockTimeout),
        BusyTimeout = TimeSpan.FromSeconds(BusyTimeout),
        LogPath = logPath,
        KeepDays = _keepDays,
        PruneBackup = PruneBackup.IsPresent,
        ConflictPolicy = ConflictPolicy,
        NewestColumn = NewestColumn,
        NodePartitioned = NodePartitioned,
    };

    private void SyncOne(string path)
    {
        var request = BuildRequest(path, LogPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(LogPath));
        var engine = new SyncEngine();
        try
        {
            if (!ShouldProcess($"Sync '{path}' to PostgreSQL schema '{Schema}'.", $"Sync '{path}' to PostgreSQL schema '{Schema}'?", "Start-DbSync", out var reason))
            {
                if (reason == ShouldProcessReason.WhatIf)
                {
                    WritePlan(Runner.Run(token => engine.PlanAsync(request, token)));
                }

                return;
            }

            if (Continuous.IsPresent)
            {
                Watch(engine, request, path);
                return;
            }

            WriteVerbose($"Syncing '{path}' to schema '{Schema}'.");
            var result = RunWithProgress(engine, request, path);
            foreach (var warning in result.Warnings)
            {
                WriteWarning(warning);
            }

            WriteObject(result);
            foreach (var table in result.Tables.Where(t => t.Status != SyncStatus.Succeeded))
            {
                WriteError(Errors.ForTable(table, path));
            }

            WriteVerbose(string.Create(CultureInfo.InvariantCulture,
                $"{result.Status}: {result.Inserted} inserted, {result.Updated} updated, {result.Deleted} deleted in {result.Duration.TotalSeconds:0.00} s (run {result.RunId}) on {result.Target}."));
        }
        catch (DbSyncException ex)
        {
            ThrowTerminatingError(Errors.From(ex, path));
        }
        catch (OperationCanceledException)
        {
            ThrowTerminatingError(Errors.Cancelled(path));
        }
    }

    /// <summary>Continuous mode: a result object per run, a non-terminating error per failed run (it is retried), until Ctrl+C.</summary>
    private void Watch(SyncEngine engine, SyncRequest request, string path)
    {
        WriteVerbose($"Watching '{path}': syncing on every commit and at least every {Interval} s. Ctrl+C stops.");
        var options = new DbSync.Core.Watching.WatchOptions { Interval = TimeSpan.FromSeconds(Interval) };
        Runner.Run<bool, DbSync.Core.Watching.WatchRun>(async (runs, token) =>
        {
            await engine.WatchAsync(request, options, runs, null, token).ConfigureAwait(false);
            return true;
        }, run =>
        {
            if (run.Result is { } result)
            {
                foreach (var warning in result.Warnings)
                {
                    WriteWarning(warning);
                }

                WriteObject(result);
                foreach (var table in result.Tables.Where(t => t.Status != SyncStatus.Succeeded))
                {
                    WriteError(Errors.ForTable(table, path));
                }
            }
            else if (run.Error is { } error)
            {
                WriteError(Errors.From(error, path));
                WriteVerbose(string.Create(CultureInfo.InvariantCulture, $"Retrying in {run.RetryIn?.TotalSeconds:0.#} s."));
            }
        });
    }

    private SyncResult RunWithProgress(SyncEngine engine, SyncRequest request, string path)
    {
        var record = new ProgressRecord(1, $"Start-DbSync {System.IO.Path.GetFileName(path)}", "Preparing");
        try
        {
            return Runner.Run<SyncResult, SyncProgress>((progress, token) => engine.SyncAsync(request, progress, token), report =>
            {
                record.StatusDescription = report.Table.Length == 0
                    ? report.Phase.ToString()
                    : string.Create(CultureInfo.CurrentCulture,
                        $"Table {report.TableIndex}/{report.TableCount} {report.Table}: {report.Phase}, {report.Rows:N0} rows ({report.RowsPerSecond:N0} rows/s)");
                record.PercentComplete = report.TableCount > 0 ? Math.Clamp((report.TableIndex - 1) * 100 / report.TableCount, 0, 100) : -1;
                WriteProgress(record);
            });
        }
        finally
        {
            record.RecordType = ProgressRecordType.Completed;
            try
            {
                WriteProgress(record);
            }
            catch (PipelineStoppedException)
            {
                // Stopping: the host clears the progress display itself.
            }
        }
    }

    private void WritePlan(SyncPlan plan)
    {
        foreach (var table in plan.Tables.OrderBy(t => t.Order))
        {
            var action = table.Reason is not null
                ? $"skip: {table.Reason}"
                : string.Create(CultureInfo.InvariantCulture,
                    $"{table.Mode}{(table.CreateTarget ? " (create target)" : "")}, {table.PendingInserts} insert(s), {table.PendingUpdates} update(s), {table.PendingDeletes} delete(s), {table.Rows} row(s) in the table");
            ShouldProcess(string.Create(CultureInfo.InvariantCulture, $"{table.Order}. {table.Name} -> {table.Target}: {action}"), "", "Start-DbSync");
        }

        foreach (var warning in plan.Warnings)
        {
            WriteWarning(warning);
        }
    }
}
