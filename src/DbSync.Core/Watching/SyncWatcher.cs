using DbSync.Core.Capture;
using DbSync.Core.Source;
using DbSync.Core.Target;
using Microsoft.Data.Sqlite;

namespace DbSync.Core.Watching;

/// <summary>How continuous mode behaves.</summary>
public sealed class WatchOptions
{
    /// <summary>Run at least this often even when no commit was seen (it also bounds the retry backoff).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often the file is checked for a new commit where no file-system events wake the watch (no watcher could be
    /// made). Small: this is what the latency depends on.
    /// </summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How often an idle watch checks the file while file-system events wake it at each write: the bound on the latency
    /// of a commit no event announces (a network file system, another host's write).
    /// </summary>
    public TimeSpan IdleCheckInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Counts the watch's checks of the file (tests: an idle watch checks rarely).</summary>
    internal Action? OnCheck { get; init; }

    /// <summary>The first wait after a failed run; it doubles up to <see cref="Interval"/>.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Report a run that the cancellation ended, as a <see cref="WatchRun"/> whose error is <c>DbSync.Cancelled</c> with
    /// the run's id (the CLI prints a line for every run). Off by default: a host whose pipeline is stopping cannot
    /// write it.
    /// </summary>
    public bool ReportCancelledRun { get; init; }

    /// <summary>
    /// How long a cancelled run may take to roll back before the watch stops without it. Npgsql cancels a statement with
    /// a request over a new connection and waits for the server's answer: through a network that went silent that
    /// wait has no end. PostgreSQL rolls such a run back when it notices the session is gone; the next run records it Abandoned.
    /// </summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>One run of continuous mode: its result, or the failure that ended it.</summary>
/// <param name="Result">The run's result when it finished.</param>
/// <param name="Error">The failure when it did not.</param>
/// <param name="RetryIn">When failed, how long until the next attempt; null for a cancelled run (see <see cref="WatchOptions.ReportCancelledRun"/>).</param>
public sealed record WatchRun(SyncResult? Result, DbSyncException? Error, TimeSpan? RetryIn);

/// <summary>
/// Continuous mode (<c>dbsync sync --watch</c>, <c>Start-DbSync -Continuous</c>): syncs as soon as a commit adds
/// changes, at least every interval, retries failures with backoff, and stops cleanly when cancelled.
/// </summary>
/// <remarks>
/// A commit is noticed through SQLite's <c>PRAGMA data_version</c>, which changes on a connection whenever another
/// connection commits: a cheap query, and exact. It is asked whenever a file-system event says the file or its journal
/// was written (<see cref="CommitSignal"/>), and at least every <see cref="WatchOptions.IdleCheckInterval"/> (events can
/// be missed: a network file system raises none); without a watcher, every <see cref="WatchOptions.PollInterval"/>. A run happens only when a change log holds more entries than the last run left pending (rows it held,
/// tables it skipped: those are tried again each interval) or a table still needs its initial load, or when the schema
/// changed (<c>PRAGMA schema_version</c>) so that a run has work: a table to capture, capture triggers to re-install (a
/// table rebuilt or dropped and created again), a new column to copy. So an idle node writes no run log entries, and
/// DbSync's own schema changes start no run; every run that does happen is logged as usual.
/// </remarks>
public static class SyncWatcher
{
    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled; reports every run.</summary>
    /// <exception cref="DbSyncException">
    /// The file cannot be watched at all at start (missing, not SQLite), or a run fails with a usage error. Once watching,
    /// every other failure, of a run or of the file (deleted, damaged, replaced), is reported and retried.
    /// </exception>
    public static async Task WatchAsync(SyncEngine engine, SyncRequest request, WatchOptions options, IProgress<WatchRun> runs,
        IProgress<SyncProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(runs);
        var path = SourceDatabase.Validate(request.Path);
        // A missing or malformed connection string is fixed in the process's own arguments: no deploy or restore heals
        // it, so it ends the watch at once (exit 1) as a one-shot sync, instead of a failed run and a backup line at
        // every retry for ever (contract exploration, F7).
        _ = TargetDatabase.ParseConnectionString(request.ConnectionString, request.Credential);
        request = request.WithReusedConnection();
        var busyTimeout = (int)Math.Ceiling(request.BusyTimeout.TotalSeconds);
        var identity = FileIdentity.Of(path);
        SqliteConnection? watch = SourceDatabase.Open(path, busyTimeout, cancellationToken);
        using var signal = CommitSignal.For(path);
        Task Idle() => signal.Active ? signal.WaitAsync(options.IdleCheckInterval, cancellationToken) : Delay(options.PollInterval, cancellationToken);
        try
        {
            var force = true; // the first pass always runs: it enables capture and loads new tables
            var retry = options.FirstRetryDelay;
            var lastRun = DateTime.MinValue;
            long seen = -1;
            long schemaSeen = -1; // PRAGMA schema_version when the watch last looked at the schema
            long left = 0; // the change-log entries the last run left pending (held rows, skipped tables)
            var skipped = new HashSet<string>(Identifiers.SqliteNames); // the tables the last run skipped (tried again each interval)
            while (!cancellationToken.IsCancellationRequested)
            {
                long version;
                bool work;
                try
                {
                    // The path may name another file by now (deleted and restored, or replaced by `mv new.sqlite db.sqlite`),
                    // while the polling connection still reads the old one and would never see a commit to the new one, not
                    // even at the interval. Its identity is read before opening: a swap in between only opens it twice.
                    var current = FileIdentity.Of(path);
                    if (watch is null || current != identity)
                    {
                        watch?.Dispose();
                        watch = null;
                        identity = current;
                        watch = SourceDatabase.Open(SourceDatabase.Validate(path), busyTimeout, cancellationToken);
                        force = true; // another file: whatever it holds is news
                    }

                    options.OnCheck?.Invoke();
                    version = DataVersion(watch);
                    var timer = DateTime.UtcNow - lastRun >= options.Interval;
                    if (!(force || version != seen || timer))
                    {
                        await Idle().ConfigureAwait(false);
                        continue;
                    }

                    // A commit is work when it added change-log entries beyond those the last run left; those wait for the
                    // interval, which tries them again. Else every run's own commit (its run log entry, its held rows) would
                    // start another run at once, for ever.
                    // A schema change writes no log entry: a table rebuilt, or dropped and created again, lost its capture
                    // triggers (and logs nothing more), and ADD COLUMN ... DEFAULT fills rows without firing them. It is work
                    // when a run would act on it; DbSync's own changes (the triggers a run installs) are then none, so they
                    // start no run of their own. The cookie is read before the schema, so a change in between is looked at again.
                    var schema = SchemaVersion(watch);
                    work = force || HasWork(watch, request.Tables, timer ? 0 : left, timer ? [] : skipped) || (schema != schemaSeen && SchemaNeedsRun(watch, request.Tables));
                    schemaSeen = schema;
                }
                catch (Exception ex) when (SyncEngine.IsBusy(ex))
                {
                    // Another program held the file longer than the busy timeout (a long write in rollback-journal mode):
                    // the watch goes on, and looks again once it can read the file. (It used to end the process.)
                    await Delay(options.PollInterval, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                catch (Exception ex) when (ex is SqliteException or DbSyncException && !cancellationToken.IsCancellationRequested)
                {
                    // The file is gone, damaged (truncated), no longer SQLite, or its I/O fails (replaced under the open
                    // connection): reported like a failed run and tried again with the same backoff, on a new connection,
                    // since a deploy or a restore may bring a good file back. It used to end the process with an unhandled
                    // exception and no line.
                    watch?.Dispose();
                    watch = null;
                    var failure = ex as DbSyncException ?? SourceDatabase.Translate((SqliteException)ex, path);
                    runs.Report(new WatchRun(null, failure, retry));
                    await Delay(retry, cancellationToken).ConfigureAwait(false);
                    retry = NextRetry(retry, options);
                    force = true;
                    lastRun = DateTime.UtcNow;
                    continue;
                }

                seen = version;
                if (!work)
                {
                    lastRun = DateTime.UtcNow;
                    continue;
                }

                try
                {
                    if (await WithinStop(engine.SyncAsync(request, progress, cancellationToken), options.StopTimeout, cancellationToken).ConfigureAwait(false) is not { } result)
                    {
                        if (options.ReportCancelledRun)
                        {
                            runs.Report(new WatchRun(null, new DbSyncException(ErrorIds.Cancelled, DbSyncErrorCategory.OperationStopped,
                                $"The run was cancelled and had not rolled back after {options.StopTimeout.TotalSeconds:0} s (PostgreSQL does not answer): the watch stopped without waiting; PostgreSQL rolls the run back when it notices the session is gone, and the next run records it Abandoned. Nothing of it was applied."), null));
                        }

                        return;
                    }

                    left = result.ChangeLogEntriesLeft;
                    skipped.Clear();
                    skipped.UnionWith(result.Tables.Where(t => t.Status == SyncStatus.Failed).Select(t => t.Name));
                    runs.Report(new WatchRun(result, null, null));
                    retry = options.FirstRetryDelay;
                    force = false;
                    lastRun = DateTime.UtcNow;
                    // `seen` stays the version read before the run: a commit that lands while the run ends must still
                    // wake the next pass. The run's own bookkeeping commit wakes it too, and finds no more entries than it left.
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OperationCanceledException
                    && ex is not DbSyncException { ErrorId: ErrorIds.UsageError })
                {
                    // Whatever ends a run, the watch reports it and goes on: a service must not die of one run.
                    runs.Report(new WatchRun(null, AsFailure(ex, path), retry));
                    await Delay(retry, cancellationToken).ConfigureAwait(false);
                    retry = NextRetry(retry, options);
                    force = true;
                    lastRun = DateTime.UtcNow;
                }
                catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
                {
                    if (options.ReportCancelledRun && ex is RunCancelledException cancelled)
                    {
                        runs.Report(new WatchRun(null, cancelled.ToError(), null));
                    }

                    return;
                }
            }
        }
        finally
        {
            watch?.Dispose();
        }
    }

    /// <summary>The run's result; null when it was cancelled and did not end within <paramref name="stopTimeout"/>.</summary>
    private static async Task<SyncResult?> WithinStop(Task<SyncResult> run, TimeSpan stopTimeout, CancellationToken cancellationToken)
    {
        // Polled rather than registered on the token: its callbacks run newest first, so one Npgsql registers during the run
        // (the cancel request that may never be answered) would hold back any registered here.
        while (!run.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            await Task.WhenAny(run, Task.Delay(100, CancellationToken.None)).ConfigureAwait(false);
        }

        if (!run.IsCompleted && await Task.WhenAny(run, Task.Delay(stopTimeout, CancellationToken.None)).ConfigureAwait(false) != run)
        {
            // Left behind, stuck in the network: its failure, should it ever come, is nobody's to report.
            _ = run.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return null;
        }

        return await run.ConfigureAwait(false);
    }

    private static TimeSpan NextRetry(TimeSpan retry, WatchOptions options) =>
        TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, Math.Max(options.Interval.Ticks, options.FirstRetryDelay.Ticks)));

    /// <summary>A run's failure with a stable error id: SQLite's translated, anything DbSync has no name for as Unexpected.</summary>
    private static DbSyncException AsFailure(Exception ex, string path) => ex switch
    {
        DbSyncException known => known,
        SqliteException sqlite => SourceDatabase.Translate(sqlite, path),
        _ => new DbSyncException(ErrorIds.Unexpected, DbSyncErrorCategory.NotSpecified, $"A run on '{path}' failed: {ex.GetType().Name}: {ex.Message}", path, ex),
    };

    private static long DataVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA data_version";
        return (long)command.ExecuteScalar()!;
    }

    private static long SchemaVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA schema_version";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// True when the schema asks for a run: a selected table is not captured, or its capture triggers are missing,
    /// altered or another table's (rebuilt, dropped and created again, renamed), or its columns or definition are not
    /// those of its last sync (a new column, or one dropped and added again, filled without firing a trigger, makes the
    /// run copy it in full).
    /// </summary>
    private static bool SchemaNeedsRun(SqliteConnection connection, IReadOnlyList<string> tables)
    {
        if (!CaptureStore.IsEnabled(connection))
        {
            return true;
        }

        using var transaction = connection.BeginTransaction(deferred: true);
        var registry = CaptureStore.ReadRegistry(connection, transaction);
        return Schema.SourceSchemaReader.ReadTables(connection, transaction)
            .Where(t => t.UnsyncableReason is null && Planning.SyncPlanner.Selects(t.Name, tables))
            .Any(t => !registry.TryGetValue(t.Name, out var registered)
                || (registered.Loaded && !t.MatchesRecorded(registered.ColumnSignature))
                || CaptureStore.TriggersNeedInstall(connection, transaction, t, registered));
    }

    /// <summary>
    /// True when the selected tables' change logs hold more than <paramref name="left"/> entries, or a selected table
    /// still needs its initial load (unless the last run skipped it: <paramref name="skipped"/>) or is not captured yet.
    /// </summary>
    private static bool HasWork(SqliteConnection connection, IReadOnlyList<string> tables, long left, IReadOnlySet<string> skipped)
    {
        if (!CaptureStore.IsEnabled(connection))
        {
            return true;
        }

        var registered = CaptureStore.ReadRegistry(connection, null);
        var selected = registered.Values.Where(t => Planning.SyncPlanner.Selects(t.Name, tables)).ToList();
        // A table the last run skipped (a column named like a PostgreSQL system column, say) waits for the interval like
        // its pending entries: else each run's own commit, finding it still not loaded, started the next run at once, for ever.
        if (selected.Any(t => !t.Loaded && !skipped.Contains(t.Name)) || CaptureStore.CountLogEntries(connection, null, selected) > left)
        {
            return true;
        }

        // A table created since the last run (with a key: keyless ones are never synced) is captured by the next run.
        return Schema.SourceSchemaReader.ReadTables(connection).Any(t => t.HasKey && !t.IsVirtual && !registered.ContainsKey(t.Name) && Planning.SyncPlanner.Selects(t.Name, tables));
    }

    private static async Task Delay(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the loop condition ends the watch.
        }
    }
}
