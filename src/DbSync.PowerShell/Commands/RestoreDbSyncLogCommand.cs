using System.Management.Automation;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Restores run log entries into SQLite files from the JSON-lines backup (dbsync restore-log).</para>
/// </summary>
[Cmdlet(VerbsData.Restore, "DbSyncLog", DefaultParameterSetName = PathResolver.PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(RestoreLogResult))]
public sealed class RestoreDbSyncLogCommand : DbSyncFileCommand
{
    #region Parameters

    /// <summary>The backup to read; default the database's own (DBSYNC_LOG_PATH, else FILE-dbsync-log.jsonl).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? BackupPath { get; set; }

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var files = ResolveFiles();

        var engine = new SyncEngine();
        foreach (var file in files)
        {
            var proceed = ShouldProcess($"Restore run log entries into '{file}' from {(Given(BackupPath) is { } backup ? $"'{backup}'" : "its backup")}.",
                $"Restore run log entries into '{file}'?", "Restore-DbSyncLog", out var reason);
            if (!proceed && reason != ShouldProcessReason.WhatIf)
            {
                continue;
            }

            // -WhatIf still reads the backup and reports what would be restored (Core's WhatIf changes nothing).
            if (!TryRunCore(file, token => engine.RestoreLogAsync(BuildRequest(file, LogPathOrDefault(BackupPath, nameof(BackupPath)), whatIf: !proceed), token), out var result))
            {
                continue;
            }

            foreach (var line in result.Invalid)
            {
                WriteCoreWarning($"{result.BackupPath} line {line.Line}: {line.Reason}");
            }

            WriteObject(result);
        }
    }

    #endregion

    /// <summary>The Core request for one file.</summary>
    /// <param name="path">The resolved SQLite file.</param>
    /// <param name="backupPath">-BackupPath resolved against PowerShell's location.</param>
    /// <param name="whatIf">Only report what would be restored.</param>
    internal RestoreLogRequest BuildRequest(string path, string? backupPath, bool whatIf) => new()
    {
        Path = path,
        BackupPath = backupPath,
        WhatIf = whatIf,
    };
}
