using System.Globalization;
using System.Management.Automation;
using DbSync.Core;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Lists the rows held back in SQLite files: poison rows PostgreSQL refused and conflicts the Fail policy left (dbsync quarantine). With -Retry, tries them again first.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "DbSyncQuarantine", DefaultParameterSetName = PathResolver.PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(QuarantinedRow), typeof(SyncResult))]
public sealed class GetDbSyncQuarantineCommand : DbSyncTargetCommand
{
    /// <summary>The parameters only a retry (a sync) uses; -ConnectionString and -Credential are not among them, as in the CLI.</summary>
    private static readonly string[] _retryParameters =
        ["Schema", "BatchSize", "PreserveCase", "LockTimeout", "BusyTimeout", "LogPath", "ConflictPolicy", "NewestColumn", "NodePartitioned"];

    // Stored boxed: see Start-DbSync.
    private object? _conflictPolicy;

    #region Parameters

    /// <summary>Only rows of matching tables (* and ?); with -Retry, only those tables are retried.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Table { get; set; } = [];

    /// <summary>Try the held rows again now (a sync of the tables that hold them, needs PostgreSQL), then list what is still held.</summary>
    [Parameter]
    public SwitchParameter Retry { get; set; }

    /// <summary>With -Retry: as for Start-DbSync.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Schema { get; set; } = "public";

    /// <summary>With -Retry: as for Start-DbSync.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int BatchSize { get; set; } = 10_000;

    /// <summary>With -Retry: as for Start-DbSync.</summary>
    [Parameter]
    public SwitchParameter PreserveCase { get; set; }

    /// <summary>With -Retry: seconds to wait while another run holds the file's lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int LockTimeout { get; set; } = 30;

    /// <summary>With -Retry: seconds a statement waits while another program holds a SQLite lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int BusyTimeout { get; set; } = 30;

    /// <summary>With -Retry: the run log's JSON-lines backup, as for Start-DbSync.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? LogPath { get; set; }

    /// <summary>With -Retry: as for Start-DbSync (SourceWins, TargetWins, Newest, Fail).</summary>
    [Parameter]
    public ConflictPolicy ConflictPolicy
    {
        get => _conflictPolicy is ConflictPolicy policy ? policy : ConflictPolicy.SourceWins;
        set => _conflictPolicy = value;
    }

    /// <summary>With -Retry and -ConflictPolicy Newest: as for Start-DbSync.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NewestColumn { get; set; }

    /// <summary>With -Retry: as for Start-DbSync.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] NodePartitioned { get; set; } = [];

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        if (!Retry.IsPresent && _retryParameters.FirstOrDefault(MyInvocation.BoundParameters.ContainsKey) is { } retryOnly)
        {
            ThrowTerminatingError(Errors.Usage($"-{retryOnly} goes with -Retry.", null));
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

        var engine = new SyncEngine();
        foreach (var file in files)
        {
            if (Retry.IsPresent && ShouldProcess(file, "Retry the held rows (sync the tables that hold them)"))
            {
                RetryOne(engine, file);
            }

            var rows = RunCore(file, token => engine.GetQuarantineAsync(BuildQuery(file), token));

            WriteObject(rows, enumerateCollection: true);
        }
    }

    #endregion

    /// <summary>The Core query for one file.</summary>
    internal QuarantineQuery BuildQuery(string path) => new() { Path = path, Tables = Table };

    /// <summary>The Core request of -Retry for one file.</summary>
    /// <param name="path">The resolved SQLite file.</param>
    /// <param name="logPath">-LogPath resolved against PowerShell's location.</param>
    internal SyncRequest BuildRetryRequest(string path, string? logPath) => new()
    {
        Path = path,
        ConnectionString = EffectiveConnectionString ?? "",
        Credential = EffectiveCredential,
        Schema = Schema,
        Tables = Table,
        BatchSize = BatchSize,
        PreserveCase = PreserveCase.IsPresent,
        LockTimeout = TimeSpan.FromSeconds(LockTimeout),
        BusyTimeout = TimeSpan.FromSeconds(BusyTimeout),
        LogPath = logPath,
        ConflictPolicy = ConflictPolicy,
        NewestColumn = NewestColumn,
        NodePartitioned = NodePartitioned,
    };

    private void RetryOne(SyncEngine engine, string path)
    {
        var request = BuildRetryRequest(path, LogPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(LogPath));
        SyncResult? result;
        try
        {
            result = RunCore(path, token => engine.RetryQuarantineAsync(request, null, token));
        }
        catch (OperationCanceledException)
        {
            throw Terminating(Errors.Cancelled(path));
        }

        if (result is null)
        {
            WriteVerbose($"No row is held in '{path}': nothing to retry.");
            return;
        }

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
            $"{result.Status}: {result.Inserted} inserted, {result.Updated} updated, {result.Deleted} deleted, {result.Quarantined} still quarantined (run {result.RunId})."));
    }
}
