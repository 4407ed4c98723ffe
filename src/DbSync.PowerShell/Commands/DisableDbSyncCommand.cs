using System.Management.Automation;
using DbSync.Core;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Removes change capture from SQLite files (dbsync disable).</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Disable, "DbSync", DefaultParameterSetName = PathResolver.PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(CaptureResult))]
public sealed class DisableDbSyncCommand : DbSyncFileCommand
{
    #region Parameters

    /// <summary>Disable even though changes are pending (they are discarded), and do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Also remove the run history and the node id: nothing named _dbsync_ stays in the file.</summary>
    [Parameter]
    public SwitchParameter Purge { get; set; }

    /// <summary>
    /// Remove capture from the captured tables these names match only (wildcards), a table since dropped or renamed in
    /// SQLite included; the file keeps its node id and the other tables' capture.
    /// </summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[] Table { get; set; } = [];

    /// <summary>Seconds to wait while another run holds the file's lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int LockTimeout { get; set; } = 30;

    /// <summary>Seconds a statement waits while another program holds a SQLite lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int BusyTimeout { get; set; } = 30;

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var files = ResolveFiles();

        var engine = new SyncEngine();
        foreach (var file in files)
        {
            if (!Confirmed(file))
            {
                continue;
            }

            if (!TryRunCore(file, token => engine.DisableAsync(BuildRequest(file), token), out var result))
            {
                continue;
            }

            foreach (var warning in result.Warnings)
            {
                WriteCoreWarning(warning);
            }

            WriteObject(result);
        }
    }

    #endregion

    /// <summary>The Core request for one file.</summary>
    internal DisableRequest BuildRequest(string path) => new()
    {
        Path = path,
        Force = Force.IsPresent,
        Purge = Purge.IsPresent,
        Tables = Table,
        LockTimeout = TimeSpan.FromSeconds(LockTimeout),
        BusyTimeout = TimeSpan.FromSeconds(BusyTimeout),
    };

    private bool Confirmed(string file) => ShouldProcessUnlessForced(
        file,
        (Purge.IsPresent ? "Remove change capture and the run history" : "Remove change capture")
            + (Force.IsPresent ? ", discarding the changes not yet synced" : " (refused while changes are not yet synced)"),
        Force.IsPresent);
}
