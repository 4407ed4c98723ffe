using System.Management.Automation;
using DbSync.Core;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Installs change capture in SQLite files without syncing (dbsync enable).</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Enable, "DbSync", DefaultParameterSetName = PathResolver.PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(CaptureResult))]
public sealed class EnableDbSyncCommand : DbSyncFileCommand
{
    #region Parameters

    /// <summary>Capture only matching tables (* and ?). Default: every table.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
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
            var action = $"Install change capture in '{file}'";
            if (!ShouldProcess($"{action}.", $"{action}?", "Enable-DbSync", out var reason))
            {
                // -WhatIf reads the file and names each table that would be captured, and what would be skipped.
                if (reason == ShouldProcessReason.WhatIf && TryRunCore(file, token => engine.PlanEnableAsync(BuildRequest(file), token), out var plan))
                {
                    foreach (var table in plan.Tables)
                    {
                        ShouldProcess($"Capture table '{table}'.", "", "Enable-DbSync");
                    }

                    foreach (var warning in plan.Warnings)
                    {
                        WriteCoreWarning(warning);
                    }
                }

                continue;
            }

            if (!TryRunCore(file, token => engine.EnableAsync(BuildRequest(file), token), out var result))
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
    internal EnableRequest BuildRequest(string path) => new()
    {
        Path = path,
        Tables = Table,
        LockTimeout = TimeSpan.FromSeconds(LockTimeout),
        BusyTimeout = TimeSpan.FromSeconds(BusyTimeout),
    };
}
