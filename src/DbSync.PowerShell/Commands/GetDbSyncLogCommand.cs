using System.Management.Automation;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Reads the run log of SQLite files, newest first (dbsync log). Never writes.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "DbSyncLog", DefaultParameterSetName = PathResolver.PathSet)]
[OutputType(typeof(RunLogEntry))]
public sealed class GetDbSyncLogCommand : DbSyncFileCommand
{
    // Stored boxed: a RunStatus field would make PowerShell load DbSync.Core while it reflects over this class
    // at import, before ModuleInitializer has routed Core into the module's load context.
    private object? _status;
    private int? _last;
    private DateTime? _since;

    #region Parameters

    /// <summary>Only the newest N runs (at least 1).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Last
    {
        get => _last ?? 0;
        set => _last = value;
    }

    /// <summary>Only runs started at or after this instant, a [DateTime] (or a [DateTimeOffset], taken as its UTC instant). A local time (Get-Date) is converted; a date without a kind is UTC, as in the CLI.</summary>
    [Parameter]
    [DateTimeOffset]
    public DateTime Since
    {
        get => _since ?? default;
        set => _since = value;
    }

    /// <summary>Only runs with this status, by name (a number or a list is refused).</summary>
    [Parameter]
    [StrictEnum(typeof(RunStatus), nameof(Status))]
    public RunStatus Status
    {
        get => _status is RunStatus status ? status : default;
        set => _status = value;
    }

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
            // A run log row that cannot be read (a hand edit) is left out and named in a warning.
            var warnings = new List<string>();
            if (!TryRunCore(file, token => engine.GetLogAsync(BuildQuery(file, backupPath), warnings, token), out var entries))
            {
                continue;
            }

            foreach (var warning in warnings)
            {
                WriteWarning(warning);
            }

            foreach (var entry in entries)
            {
                WriteObject(WithReadFrom(entry, file));
            }
        }
    }

    #endregion

    /// <summary>The note naming, on each entry written, the file its log was read from.</summary>
    internal const string ReadFromProperty = "ReadFrom";

    /// <summary>
    /// The entry with a ReadFrom note naming <paramref name="file"/>. Piped on, the entry's Path would bind to -Path, and
    /// it names where the file was when that run ran: after a rename, a move, a copy or a restore, another file or none.
    /// The cmdlets' hidden -ReadFrom takes the note by property name and wins over that Path.
    /// </summary>
    private static PSObject WithReadFrom(RunLogEntry entry, string file)
    {
        var item = new PSObject(entry);
        item.Properties.Add(new PSNoteProperty(ReadFromProperty, file));
        return item;
    }

    /// <summary>The Core query for one file.</summary>
    /// <param name="path">The resolved SQLite file.</param>
    /// <param name="backupPath">
    /// DBSYNC_LOG_PATH resolved against PowerShell's location, or null: left to Core, a relative one was resolved against
    /// the process's working folder, another backup than Start-DbSync writes, and a run whose end only reached the
    /// backup was shown Abandoned.
    /// </param>
    internal LogQuery BuildQuery(string path, string? backupPath) => new()
    {
        Path = path,
        BackupPath = backupPath,
        Last = _last,
        Since = _since is { } since ? Times.ToUtc(since) : null,
        Status = _status is RunStatus status ? status : null,
    };
}
