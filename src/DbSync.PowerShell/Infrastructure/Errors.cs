using System.Management.Automation;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>Core failures as ErrorRecords with the same stable error id the CLI prints.</summary>
internal static class Errors
{
    /// <summary>
    /// A failure of the parameters themselves (a usage error, no or a malformed connection string): every input item
    /// would repeat it, so it ends the command. Any other failure is about one item, and is a non-terminating error;
    /// so is a usage error Core raises about the state of one file rather than about the parameters (reset-node on a
    /// file on which capture was never enabled): that one names the file and is InvalidOperation, where a mistake in
    /// the parameters is InvalidArgument.
    /// </summary>
    public static bool EndsTheCommand(DbSyncException error) => error?.ErrorId switch
    {
        ErrorIds.ConnectionMissing or ErrorIds.InvalidConnectionString => true,
        ErrorIds.UsageError => !(error.Category == DbSyncErrorCategory.InvalidOperation && error.Target is not null),
        _ => false,
    };

    /// <summary>An ErrorRecord for a Core failure; the target object is what the error is about, else the file.</summary>
    public static ErrorRecord From(DbSyncException exception, object? fallbackTarget) =>
        InPowerShellWords(new(exception, exception.ErrorId, ToErrorCategory(exception.Category), TargetOf(exception, fallbackTarget)));

    /// <summary>
    /// The record's target object: Core's target, else the fallback, a string with any password in it redacted. The
    /// fallback is usually the resolved path, and a connection string given in the path's position (arguments swapped)
    /// resolves to a path holding its password; NormalView prints the target, and jobs and Export-Clixml keep it.
    /// </summary>
    internal static object? TargetOf(DbSyncException exception, object? fallbackTarget) =>
        exception.Target ?? (fallbackTarget is string text ? Secrets.Redact(text) : fallbackTarget);

    /// <summary>
    /// Shows the record's message with the cmdlets' names for the CLI's options and commands (see <see cref="Wording"/>),
    /// through ErrorDetails, which PowerShell shows instead of the exception's message; the exception stays as Core
    /// threw it.
    /// </summary>
    private static ErrorRecord InPowerShellWords(ErrorRecord record)
    {
        var message = record.Exception.Message;
        var shown = Wording.ForPowerShell(message);
        if (!string.Equals(shown, message, StringComparison.Ordinal))
        {
            record.ErrorDetails = new ErrorDetails(shown);
        }

        return record;
    }

    /// <summary>An ErrorRecord for one table a run skipped.</summary>
    public static ErrorRecord ForTable(TableSyncResult table, string path)
    {
        var errorId = table.ErrorId ?? ErrorIds.Unexpected;
        var category = table.Category ?? DbSyncErrorCategory.NotSpecified;
        var (message, shown) = TableMessage(table, path);
        var exception = new DbSyncException(errorId, category, message, table.Name);
        var record = new ErrorRecord(exception, errorId, ToErrorCategory(category), table);
        if (!string.Equals(shown, message, StringComparison.Ordinal))
        {
            record.ErrorDetails = new ErrorDetails(shown);
        }

        return record;
    }

    /// <summary>
    /// A skipped table's message as Core words it (the exception's) and as shown (the record's ErrorDetails). Only Core's
    /// wording is rewritten into the cmdlets' names: the path and the table name are data, unquoted here, and a folder
    /// named "old dbsync status" was shown as "old Get-DbSyncStatus", a path that does not exist.
    /// </summary>
    internal static (string Message, string Shown) TableMessage(TableSyncResult table, string path)
    {
        // Core's messages about a table name it themselves ("Table 'Employee': ...").
        var named = table.Message?.Contains($"'{table.Name}'", StringComparison.Ordinal) == true;
        var prefix = named ? $"{path}: " : $"{path}: table {table.Name}: ";
        return (prefix + table.Message, prefix + Wording.ForPowerShell(table.Message ?? ""));
    }

    /// <summary>
    /// The record for a table whose rows a committed run held back: not a failure of the run, but what a scheduled job
    /// must not pass over (dbsync exits 3 for it), so it reaches $? and -ErrorAction like a skipped table.
    /// </summary>
    public static ErrorRecord RowsHeld(TableSyncResult table, string path)
    {
        var exception = new DbSyncException(ErrorIds.RowsHeld, DbSyncErrorCategory.InvalidData, RowsHeldMessage(table, path), table.Name);
        return new ErrorRecord(exception, ErrorIds.RowsHeld, ErrorCategory.InvalidData, table);
    }

    /// <summary>
    /// The held rows message, shown as it is: it is written in the cmdlets' words already, and the path and the table
    /// name in it are data (run through the CLI-to-cmdlet rewriting, a folder "old dbsync status" became "old Get-DbSyncStatus").
    /// </summary>
    internal static string RowsHeldMessage(TableSyncResult table, string path)
    {
        var parts = new List<string>();
        if (table.Quarantined > 0)
        {
            parts.Add($"{table.Quarantined} row(s) quarantined (see Get-DbSyncQuarantine)");
        }

        if (table.Conflicts > table.ConflictsResolved)
        {
            parts.Add($"{table.Conflicts - table.ConflictsResolved} conflict(s) left unresolved by -ConflictPolicy Fail (see Get-DbSyncConflict)");
        }

        return $"{path}: table {table.Name}: {string.Join(", ", parts)}; the rest of the run committed, and the held rows stay pending.";
    }

    /// <summary>The record for a run stopped by a cancellation that did not come from the pipeline (e.g. a timeout).</summary>
    public static ErrorRecord Cancelled(string path) => From(
        new DbSyncException(ErrorIds.Cancelled, DbSyncErrorCategory.OperationStopped, "The run was cancelled; nothing of it was applied.", Secrets.Redact(path)), path);

    /// <summary>Maps Core's category one to one onto PowerShell's.</summary>
    public static ErrorCategory ToErrorCategory(DbSyncErrorCategory category) => category switch
    {
        DbSyncErrorCategory.ObjectNotFound => ErrorCategory.ObjectNotFound,
        DbSyncErrorCategory.InvalidArgument => ErrorCategory.InvalidArgument,
        DbSyncErrorCategory.InvalidData => ErrorCategory.InvalidData,
        DbSyncErrorCategory.InvalidOperation => ErrorCategory.InvalidOperation,
        DbSyncErrorCategory.PermissionDenied => ErrorCategory.PermissionDenied,
        DbSyncErrorCategory.ConnectionError => ErrorCategory.ConnectionError,
        DbSyncErrorCategory.OperationTimeout => ErrorCategory.OperationTimeout,
        DbSyncErrorCategory.MetadataError => ErrorCategory.MetadataError,
        DbSyncErrorCategory.WriteError => ErrorCategory.WriteError,
        DbSyncErrorCategory.OperationStopped => ErrorCategory.OperationStopped,
        _ => ErrorCategory.NotSpecified,
    };

    /// <summary>A usage error raised by the module itself (a parameter combination Core cannot express).</summary>
    public static ErrorRecord Usage(string message, object? target) => From(
        new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument, message), target);
}
