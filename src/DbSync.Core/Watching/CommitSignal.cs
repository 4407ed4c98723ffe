namespace DbSync.Core.Watching;

/// <summary>
/// Wakes continuous mode when the database file, its WAL or its rollback journal is written, renamed, created or deleted
/// (inotify on Linux, through <see cref="FileSystemWatcher"/>), so that an idle watch need not query the file every few
/// milliseconds: that polling kept about 7.5 % of a core busy for as long as a node was idle (ops exploration, F7). A
/// wake-up only makes the watch look (<c>PRAGMA data_version</c> stays the judge of a commit), and the watch also looks at
/// every <see cref="WatchOptions.IdleCheckInterval"/> whatever the events say: a network file system, or another host's
/// writes, raise none.
/// </summary>
internal sealed class CommitSignal : IDisposable
{
    private readonly FileSystemWatcher? _watcher;
    private readonly SemaphoreSlim _woken = new(0, 1);

    private CommitSignal(FileSystemWatcher? watcher) => _watcher = watcher;

    /// <summary>Whether file-system events wake the watch; false when no watcher could be made (it then polls).</summary>
    public bool Active => _watcher is not null;

    /// <summary>A signal for the database at <paramref name="path"/>; inactive when the OS refuses a watcher (inotify limits).</summary>
    public static CommitSignal For(string path)
    {
        var real = Bookkeeping.RunLock.TryRealPath(path);
        var folder = Path.GetDirectoryName(real);
        if (folder is null)
        {
            return new CommitSignal(null);
        }

        FileSystemWatcher? watcher = null;
        try
        {
            var name = Path.GetFileName(real);
            watcher = new FileSystemWatcher(folder)
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
                IncludeSubdirectories = false,
            };
            watcher.Filters.Add(name);
            watcher.Filters.Add(name + "-wal");
            watcher.Filters.Add(name + "-journal");
            var signal = new CommitSignal(watcher);
            watcher.Changed += (_, _) => signal.Wake();
            watcher.Created += (_, _) => signal.Wake();
            watcher.Deleted += (_, _) => signal.Wake();
            watcher.Renamed += (_, _) => signal.Wake();
            // Events lost to an overflowing queue are made up for by one look.
            watcher.Error += (_, _) => signal.Wake();
            watcher.EnableRaisingEvents = true;
            return signal;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            watcher?.Dispose();
            return new CommitSignal(null);
        }
    }

    private void Wake()
    {
        try
        {
            if (_woken.CurrentCount == 0)
            {
                _woken.Release();
            }
        }
        catch (Exception ex) when (ex is SemaphoreFullException or ObjectDisposedException)
        {
            // Already signalled, or the watch has ended.
        }
    }

    /// <summary>Waits for a write to the file or <paramref name="timeout"/>, whichever comes first; a cancel ends the wait.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _woken.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the watch's loop condition ends it.
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _watcher?.Dispose();
        _woken.Dispose();
    }
}
