using System.Management.Automation;
using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Shows, per SQLite file, whether capture is enabled, what is pending, the last run and whether PostgreSQL answers.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "DbSyncStatus", DefaultParameterSetName = PathResolver.PathSet)]
[OutputType(typeof(DatabaseStatus), typeof(TableStatus))]
public sealed class GetDbSyncStatusCommand : DbSyncTargetCommand
{
    #region Parameters

    /// <summary>Also emit one object per table.</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    /// <summary>Seconds to wait for PostgreSQL to answer.</summary>
    [Parameter]
    [ValidateRange(1, 600)]
    public int TargetTimeout { get; set; } = 3;

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var files = ResolveFiles();

        var backupPath = LogPathFromEnvironment();
        var engine = new SyncEngine();
        foreach (var file in files)
        {
            if (!TryRunCore(file, token => engine.GetStatusAsync(BuildRequest(file, backupPath), token), out var status))
            {
                continue;
            }

            if (!Detailed.IsPresent)
            {
                WriteObject(status);
                continue;
            }

            // Its own view (module/DbSync.format.ps1xml) shows the status out of band, so that the tables after it get
            // their table view rather than one list each.
            var detailed = PSObject.AsPSObject(status);
            detailed.TypeNames.Insert(0, DetailedTypeName);
            WriteObject(detailed);
            WriteObject(status.Tables, enumerateCollection: true);
        }
    }

    #endregion

    /// <summary>The type name of the status -Detailed emits before its tables.</summary>
    internal const string DetailedTypeName = "DbSync.Core.Diagnostics.DatabaseStatus#Detailed";

    /// <summary>The Core request for one file.</summary>
    /// <param name="path">The resolved SQLite file.</param>
    /// <param name="backupPath">DBSYNC_LOG_PATH resolved against PowerShell's location, or null (as for Get-DbSyncLog).</param>
    internal StatusRequest BuildRequest(string path, string? backupPath) => new()
    {
        Path = path,
        BackupPath = backupPath,
        ConnectionString = EffectiveConnectionString,
        Credential = EffectiveCredential,
        Detailed = Detailed.IsPresent,
        TargetTimeout = TimeSpan.FromSeconds(TargetTimeout),
    };
}
