using System.Management.Automation;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>Core failures as ErrorRecords with the same stable error id the CLI prints.</summary>
internal static class Errors
{
    /// <summary>
    /// A failure of the parameters themselves (a usage error, no or a malformed connection string): every input item
    /// would repeat it, so it ends the command. Any other failure is about one item, and is a non-terminating error.
    /// </summary>
    public static bool EndsTheCommand(DbSyncException error) =>
        error?.ErrorId is ErrorIds.UsageError or ErrorIds.ConnectionMissing or ErrorIds.InvalidConnectionString;

    /// <summary>An ErrorRecord for a Core failure; the target object is what the error is about, else the file.</summary>
    public static ErrorRecord From(DbSyncException exception, object? fallbackTarget) =>
        new(exception, exception.ErrorId, ToErrorCategory(exception.Category), exception.Target ?? fallbackTarget);

    /// <summary>An ErrorRecord for one table a run skipped.</summary>
    public static ErrorRecord ForTable(TableSyncResult table, string path)
    {
        var errorId = table.ErrorId ?? ErrorIds.Unexpected;
        var category = table.Category ?? DbSyncErrorCategory.NotSpecified;
        var exception = new DbSyncException(errorId, category, $"{path}: table {table.Name}: {table.Message}", table.Name);
        return new ErrorRecord(exception, errorId, ToErrorCategory(category), table);
    }

    /// <summary>The record for a run stopped by a cancellation that did not come from the pipeline (e.g. a timeout).</summary>
    public static ErrorRecord Cancelled(string path) => From(
        new DbSyncException(ErrorIds.Cancelled, DbSyncErrorCategory.OperationStopped, "The run was cancelled; nothing of it was applied.", path), path);

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
