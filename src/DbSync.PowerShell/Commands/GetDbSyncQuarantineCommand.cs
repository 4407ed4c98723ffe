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
public sealed class GetDbSyncQuarantineCommand : DbSyncSyncCommand
{
    /// <summary>The parameters only a retry (a sync) uses; -ConnectionString and -Credential are not among them, as in the CLI.</summary>
    private static readonly string[] _retryParameters =
        ["Schema", "BatchSize", "PreserveCase", "LockTimeout", "BusyTimeout", "LogPath", "ConflictPolicy", "NewestColumn", "NodePartitioned"];

    #region Parameters

    /// <summary>Try the held rows again now (a sync of the tables that hold them, needs PostgreSQL), then list what is still held.</summary>
    [Parameter]
    public SwitchParameter Retry { get; set; }

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (!Retry.IsPresent && _retryParameters.FirstOrDefault(GivenByCaller) is { } retryOnly)
        {
            ThrowTerminatingError(Errors.Usage($"-{retryOnly} goes with -Retry.", null));
        }

        CheckConflictOptions();
    }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var files = ResolveFiles();

        var engine = new SyncEngine();
        foreach (var file in files)
        {
            if (Retry.IsPresent && ShouldProcess(file, "Retry the held rows (sync the tables that hold them)") && !RetryOne(engine, file))
            {
                continue;
            }

            if (!TryRunCore(file, token => engine.GetQuarantineAsync(BuildQuery(file), token), out var rows))
            {
                continue;
            }

            // The reason is stored in the file as Core words it; a PowerShell user reads the cmdlets' names in it.
            WriteObject(rows.Select(r => r with { Reason = Wording.ForPowerShell(r.Reason) }), enumerateCollection: true);
        }
    }

    #endregion

    /// <summary>The Core query for one file.</summary>
    internal QuarantineQuery BuildQuery(string path) => new() { Path = path, Tables = Table, BusyTimeout = TimeSpan.FromSeconds(BusyTimeout) };

    /// <summary>The Core request of -Retry for one file.</summary>
    /// <param name="path">The resolved SQLite file.</param>
    /// <param name="logPath">-LogPath resolved against PowerShell's location.</param>
    internal SyncRequest BuildRetryRequest(string path, string? logPath) => BuildSyncRequest(path, logPath);

    /// <returns>False when the retry failed (the error was written).</returns>
    private bool RetryOne(SyncEngine engine, string path)
    {
        var request = BuildRetryRequest(path, ResolvedLogPath);
        SyncResult? result;
        try
        {
            if (!TryRunCore(path, token => engine.RetryQuarantineAsync(request, null, token), out result))
            {
                return false;
            }
        }
        catch (OperationCanceledException)
        {
            throw Terminating(Errors.Cancelled(path));
        }

        if (result is null)
        {
            WriteVerbose($"No row is held in '{path}': nothing to retry.");
            return true;
        }

        WriteRun(result, path);
        WriteVerbose(string.Create(CultureInfo.InvariantCulture,
            $"{result.Status}: {result.Inserted} inserted, {result.Updated} updated, {result.Deleted} deleted, {result.Quarantined} still quarantined (run {result.RunId})."));
        return true;
    }
}
