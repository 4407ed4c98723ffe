using System.Management.Automation;
using DbSync.Core;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Gives a copied SQLite file a node id of its own, so that it and the file it was copied from can both sync (dbsync reset-node).</para>
/// </summary>
[Cmdlet(VerbsCommon.Reset, "DbSyncNode", DefaultParameterSetName = PathResolver.PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ResetNodeResult))]
public sealed class ResetDbSyncNodeCommand : DbSyncTargetCommand
{
    #region Parameters

    /// <summary>Seconds to wait while another run holds the file's lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int LockTimeout { get; set; } = 30;

    /// <summary>Seconds a statement waits while another program holds a SQLite lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int BusyTimeout { get; set; } = 30;

    /// <summary>Do not ask for confirmation (for scripts and scheduled jobs); -WhatIf and an explicit -Confirm still win.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

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

            if (!TryRunCore(file, token => engine.ResetNodeAsync(BuildRequest(file), token), out var result))
            {
                continue;
            }

            WriteObject(result);
        }
    }

    #endregion

    /// <summary>The Core request for one file.</summary>
    internal ResetNodeRequest BuildRequest(string path) => new()
    {
        Path = path,
        LockTimeout = TimeSpan.FromSeconds(LockTimeout),
        BusyTimeout = TimeSpan.FromSeconds(BusyTimeout),
        ConnectionString = EffectiveConnectionString,
        Credential = EffectiveCredential,
    };

    private bool Confirmed(string file) =>
        ShouldProcessUnlessForced(file, "Give the file a new node id (every table is copied in full on its next sync)", Force.IsPresent);
}
