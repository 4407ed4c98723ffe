using System.Diagnostics;

namespace DbSync.Core.Bookkeeping;

/// <summary>
/// One run per SQLite file at a time, by an OS lock on a sidecar file (<c>FILE-dbsync.lock</c>). The OS releases it
/// when the process dies, even by kill -9, so a crashed run never blocks the next one.
/// </summary>
public sealed class RunLock : IDisposable
{
    private readonly FileStream _stream;

    private RunLock(FileStream stream) => _stream = stream;

    /// <summary>
    /// The lock file used for a database: beside the file itself, with symbolic links resolved, so that runs that reach
    /// one file by two paths (a link and its target) take the same lock. (Two runs on one file at once could each mark
    /// synced what the other pushed, and then changes written meanwhile, docs/capture.md.)
    /// </summary>
    public static string LockPathFor(string databasePath) => RealPath(databasePath) + "-dbsync.lock";

    /// <summary>
    /// <see cref="RealPath"/>, or the path as given when a link cannot be read (a folder that may not be listed): the run
    /// log's backup and recorded path, which are named after the file as the lock is.
    /// </summary>
    internal static string TryRealPath(string fullPath)
    {
        try
        {
            return RealPath(fullPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return fullPath;
        }
    }

    /// <summary>The path with every symbolic link in it resolved, the file's own and its folders'.</summary>
    internal static string RealPath(string fullPath, int depth = 0)
    {
        var root = Path.GetPathRoot(fullPath) ?? "";
        var current = root;
        foreach (var part in fullPath[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            var target = depth < 32 && info.LinkTarget is not null ? info.ResolveLinkTarget(returnFinalTarget: true) : null;
            current = target is null ? next : RealPath(Path.GetFullPath(target.FullName), depth + 1);
        }

        return current;
    }

    /// <summary>Takes the lock, waiting up to <paramref name="timeout"/>.</summary>
    /// <exception cref="DbSyncException">LockTimeout when another run still holds it; SourceReadOnly or SourceError when the
    /// lock file cannot be created or opened at all.</exception>
    public static async Task<RunLock> AcquireAsync(string databasePath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var path = LockPathFor(databasePath);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive flock() on Unix and a share-mode lock on Windows, also on a file opened
                // only to read: the lock file another account's run created (0644 under its umask) locked every other
                // account out for good, though they may write the database and its folder (ops exploration, F2).
                return new RunLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.None, 1, FileOptions.None));
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new DbSyncException(ErrorIds.SourceReadOnly, DbSyncErrorCategory.PermissionDenied,
                    File.Exists(path)
                        ? $"Cannot open the lock file '{path}' beside the database: it exists and the account that runs DbSync may not read it ({ex.Message}). Let it be read (chmod a+r), or delete it while no run is under way."
                        : $"Cannot create the lock file '{path}' beside the database: the account that runs DbSync may not create files in its folder ({ex.Message}).",
                    databasePath, ex);
            }
            catch (IOException ex) when (!HeldByAnother(ex))
            {
                // Not another run's lock: a read-only file system, a name too long for it, a link loop. Waiting would
                // only end in a LockTimeout that blames a run that does not exist.
                throw ex.HResult == ReadOnlyFileSystem
                    ? new DbSyncException(ErrorIds.SourceReadOnly, DbSyncErrorCategory.PermissionDenied,
                        $"Cannot create the lock file '{path}' beside the database: the file system is read-only ({ex.Message}).", databasePath, ex)
                    : new DbSyncException(ErrorIds.SourceError, DbSyncErrorCategory.WriteError,
                        $"Cannot create or open the lock file '{path}' beside the database: {ex.Message}", databasePath, ex);
            }
            catch (IOException) when (clock.Elapsed < timeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new DbSyncException(ErrorIds.LockTimeout, DbSyncErrorCategory.OperationTimeout,
                    $"Another DbSync run on '{databasePath}' still holds its lock after {timeout.TotalSeconds:0.#} s (lock timeout).", databasePath, ex);
            }
        }
    }

    /// <summary>EROFS on Linux and macOS, which .NET passes on as the exception's HResult.</summary>
    private const int ReadOnlyFileSystem = 30;

    /// <summary>
    /// Whether opening the lock file failed because another process holds the lock: flock()'s EWOULDBLOCK (11 on Linux,
    /// 35 on macOS), or Windows' sharing or lock violation. Anything else is a fault that waiting cannot cure.
    /// </summary>
    private static bool HeldByAnother(IOException ex) =>
        OperatingSystem.IsWindows() ? (ex.HResult & 0xFFFF) is 32 or 33 : ex.HResult == (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? 35 : 11);

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
