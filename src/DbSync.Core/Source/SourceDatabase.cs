using Microsoft.Data.Sqlite;

namespace DbSync.Core.Source;

/// <summary>Validates and opens the SQLite file. Never creates a database: a missing file is an error.</summary>
public static class SourceDatabase
{
    private static ReadOnlySpan<byte> Header => "SQLite format 3\0"u8;

    /// <summary>Returns the full path of a file that exists, is a regular file and starts with the SQLite header.</summary>
    /// <exception cref="DbSyncException">SourceNotFound, SourceNotAFile or SourceNotSqlite.</exception>
    public static string Validate(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument, "No SQLite database path was given (--path).");
        }

        var full = Path.GetFullPath(path);
        // A connection string passed where the path belongs must not have its password repeated in the error.
        var shown = Secrets.Redact(full);
        if (Directory.Exists(full))
        {
            throw new DbSyncException(ErrorIds.SourceNotAFile, DbSyncErrorCategory.InvalidArgument,
                $"'{shown}' is a directory, not a SQLite database file.", shown);
        }

        if (!File.Exists(full))
        {
            throw new DbSyncException(ErrorIds.SourceNotFound, DbSyncErrorCategory.ObjectNotFound,
                $"The SQLite database '{shown}' does not exist.", shown);
        }

        Span<byte> head = stackalloc byte[16];
        int read;
        try
        {
            using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new DbSyncException(ErrorIds.SourceReadOnly, DbSyncErrorCategory.PermissionDenied,
                $"The SQLite database '{full}' cannot be read: {ex.Message}", full, ex);
        }
        catch (IOException ex)
        {
            throw new DbSyncException(ErrorIds.SourceError, DbSyncErrorCategory.ObjectNotFound,
                $"The SQLite database '{full}' cannot be read: {ex.Message}", full, ex);
        }

        if (read == 0)
        {
            throw new DbSyncException(ErrorIds.SourceNotSqlite, DbSyncErrorCategory.InvalidData,
                $"'{full}' is empty, not a SQLite database.", full);
        }

        if (read < head.Length || !head.SequenceEqual(Header))
        {
            throw new DbSyncException(ErrorIds.SourceNotSqlite, DbSyncErrorCategory.InvalidData,
                $"'{full}' is not a SQLite database (it does not start with the SQLite file header).", full);
        }

        return full;
    }

    /// <summary>Opens a read-write connection to an existing file. The busy timeout applies to every statement.</summary>
    public static SqliteConnection Open(string fullPath, int busyTimeoutSeconds = 30)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = busyTimeoutSeconds,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // Microsoft.Data.Sqlite retries SQLITE_BUSY up to the command timeout; the pragma makes SQLite itself wait too.
            command.CommandText = $"PRAGMA busy_timeout = {busyTimeoutSeconds * 1000}; SELECT count(*) FROM sqlite_master;";
            command.ExecuteScalar();
            return connection;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw Translate(ex, fullPath);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Turns a SQLite failure into a DbSyncException with a stable id.</summary>
    public static DbSyncException Translate(SqliteException ex, string fullPath)
    {
        ArgumentNullException.ThrowIfNull(ex);
        return (ex.SqliteErrorCode & 0xFF) switch
        {
            SQLitePCL.raw.SQLITE_NOTADB => new DbSyncException(ErrorIds.SourceNotSqlite, DbSyncErrorCategory.InvalidData,
                $"'{fullPath}' is not a SQLite database: {ex.Message}", fullPath, ex),
            SQLitePCL.raw.SQLITE_CORRUPT => new DbSyncException(ErrorIds.SourceCorrupt, DbSyncErrorCategory.InvalidData,
                $"The SQLite database '{fullPath}' is damaged: {ex.Message}", fullPath, ex),
            SQLitePCL.raw.SQLITE_READONLY or SQLitePCL.raw.SQLITE_PERM or SQLitePCL.raw.SQLITE_CANTOPEN => new DbSyncException(
                ErrorIds.SourceReadOnly, DbSyncErrorCategory.PermissionDenied,
                $"The SQLite database '{fullPath}' cannot be written: {ex.Message}", fullPath, ex),
            SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED => new DbSyncException(ErrorIds.SourceBusy, DbSyncErrorCategory.OperationTimeout,
                $"The SQLite database '{fullPath}' stayed locked by another program longer than the busy timeout: {ex.Message}", fullPath, ex),
            SQLitePCL.raw.SQLITE_FULL or SQLitePCL.raw.SQLITE_IOERR => new DbSyncException(ErrorIds.SourceError, DbSyncErrorCategory.WriteError,
                $"The SQLite database '{fullPath}' could not be written (disk full or I/O error): {ex.Message}", fullPath, ex),
            _ => new DbSyncException(ErrorIds.SourceError, DbSyncErrorCategory.NotSpecified,
                $"SQLite failed on '{fullPath}': {ex.Message}", fullPath, ex),
        };
    }
}
