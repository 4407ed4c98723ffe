using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using DbSync.Core.Bookkeeping;
using DbSync.Core.Capture;
using DbSync.Core.Planning;
using DbSync.Core.Schema;
using DbSync.Core.Source;
using DbSync.Core.Target;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Core;

/// <summary>
/// Runs syncs from a SQLite file to PostgreSQL, and enables or disables capture. Front ends (the dbsync CLI, the
/// PowerShell cmdlets) only map their options to requests and the results or exceptions to their output.
/// </summary>
/// <remarks>
/// A run: (1) check the file and connect to PostgreSQL before touching anything; (2) take the file's run lock;
/// (3) install capture on the selected tables and record the run as started; (4) plan every table against the
/// target schema, failing before any data is written on a mismatch; (5) in one SQLite read transaction, read each
/// table's change-log high-water mark and stream either the whole table or its coalesced pending rows into
/// PostgreSQL by binary COPY; (6) apply staged rows set-based, upserts parents first, deletes children first, all in
/// one PostgreSQL transaction with foreign keys deferred; (7) only after that commit, forget the changes up to each
/// high-water mark in SQLite and record the run. A crash anywhere leaves either nothing applied or everything
/// applied and still pending, and replaying an applied change is a no-op.
/// </remarks>
public sealed class SyncEngine
{
    /// <summary>
    /// This build's version, as <c>dbsync --version</c> shows it and run logs record it: the product version and, for a
    /// build made in a git clone, its commit (<c>0.1.0+abcdef1</c>). The product version alone was the same for every
    /// build, so neither the run log nor <c>dbsync.runs</c> told which build made a run (upgrade exploration, F5).
    /// </summary>
    public static string Version { get; } =
        typeof(SyncEngine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(SyncEngine).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Runs one sync.</summary>
    /// <exception cref="DbSyncException">The run failed; <see cref="DbSyncException.ErrorId"/> says why.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled; nothing of the run was applied.</exception>
    public async Task<SyncResult> SyncAsync(SyncRequest request, IProgress<SyncProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.BatchSize < 1)
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                $"The batch size must be at least 1 (got {request.BatchSize}).");
        }

        var schema = TargetSchemaName(request.Schema, request.PreserveCase);

        var runId = Guid.NewGuid();
        var clock = new RunClock();
        var started = clock.StartedAt;
        var backupPath = RunLog.BackupPathFor(TryFullPath(request.Path), request.LogPath);
        NpgsqlConnection? pg = null;
        RunLock? runLock = null;
        SqliteConnection? sqlite = null;
        string? target = null;
        try
        {
            string path;
            string filePath;
            NpgsqlConnectionStringBuilder builder;
            (string NodeId, List<(SourceTable Table, RegisteredTable Registry)> Captured, List<string> Warnings) capture;
            var entries = new List<RunLogEntry>();
            try
            {
                path = SourceDatabase.Validate(request.Path);
                // The path the run's entries record: with symbolic links resolved, as for the run lock and the backup.
                filePath = RunLock.TryRealPath(path);
                if (backupPath is not null && (backupPath == filePath || Watching.FileIdentity.Of(backupPath) is { } backupFile && backupFile == Watching.FileIdentity.Of(path)))
                {
                    // A script's variables mixed up: the database would take JSON lines, and a prune would destroy it (ops
                    // exploration, F6). Every append refuses a SQLite file too; this says it before the run.
                    throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                        $"The run log's backup (--log-path or DBSYNC_LOG_PATH) '{backupPath}' is the database itself; name a file of its own (FILE-dbsync-log.jsonl beside the database when neither is set).", path);
                }
                progress?.Report(new SyncProgress("", SyncPhase.Preparing, 0, 0, 0, TimeSpan.Zero));
                builder = TargetDatabase.ParseConnectionString(request.ConnectionString, request.Credential);
                builder.Pooling = request.ReuseConnection;
                if (!TargetDatabase.HasKey(request.ConnectionString, "Command Timeout", "CommandTimeout"))
                {
                    // Loading a large table takes longer than Npgsql's 30 s default; a timeout the user sets is honoured.
                    builder.CommandTimeout = 0;
                    // Nor on the server, where a role or database may set one: options sent at connect override those
                    // settings from the first statement on (Npgsql's own type loading included). With a Command Timeout
                    // given, no startup options are sent (a pooler may refuse them) and TargetDatabase.OpenAsync sets the
                    // same limits once connected.
                    builder.Options = $"{builder.Options} -c statement_timeout=0 -c idle_in_transaction_session_timeout=0 -c lock_timeout=0".Trim();
                }


                if (request.ReuseConnection && !TargetDatabase.HasKey(request.ConnectionString, "Keepalive", "KeepAlive"))
                {
                    // Continuous mode keeps its connection between runs: Npgsql's keepalive checks it while idle (and drops
                    // it when the check gets no answer within 3 s), so a network gone silent between runs fails the next
                    // run within Timeout instead of hanging it. TCP keepalive (ParseConnectionString) covers a run itself.
                    builder.KeepAlive = 5;
                }

                target = TargetDatabase.Describe(builder);
                pg = await TargetDatabase.OpenAsync(builder, cancellationToken, forWriting: true).ConfigureAwait(false);
                schema = await TargetDatabase.ResolveSchemaAsync(pg, schema, request.PreserveCase, cancellationToken).ConfigureAwait(false);
                // A database encoding whose characters DbSync does not know is refused now, rather than by a failed COPY mid-run.
                _ = ServerEncoding.Of(pg, target);
                runLock = await RunLock.AcquireAsync(path, request.LockTimeout, cancellationToken).ConfigureAwait(false);
                // Until PostgreSQL has committed, a wait for another program's lock ends at a cancel (Ctrl+C).
                sqlite = SourceDatabase.Open(path, (int)Math.Ceiling(request.BusyTimeout.TotalSeconds), cancellationToken);
                try
                {
                    capture = InstallCapture(sqlite, request.Tables, request.NodePartitioned, (transaction, nodeId) =>
                    {
                        entries.AddRange(RunLog.MarkAbandoned(sqlite, transaction, backupPath));
                        var running = new RunLogEntry { RunId = runId, NodeId = nodeId, Path = filePath, Target = target, StartedAt = started, Status = RunStatus.Running };
                        RunLog.Write(sqlite, transaction, running);
                        entries.Add(running);
                    });
                }
                catch (SqliteException ex)
                {
                    throw SourceDatabase.Translate(ex, path);
                }
            }
            catch (Exception ex) when (ex is DbSyncException || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                // The run never started: neither database changed, so the attempt is recorded in the backup only. A
                // wait for a lock that the cancel ended is the cancel.
                var failure = cancellationToken.IsCancellationRequested && ex is DbSyncException { ErrorId: ErrorIds.SourceBusy } ? null : ex as DbSyncException;
                var elapsed = clock.Elapsed;
                // Attempts whose backup would be a new file beside the path (no --log-path, no DBSYNC_LOG_PATH) are not
                // recorded when the path names nothing to keep a history of:
                // - no file there and no backup beside it yet: a mistyped path or a folder. Recording the attempt would leave
                //   a new backup and its lock file beside whatever the path names (a folder's, even '/-dbsync-log.jsonl'). A
                //   file that had a backup (deleted, or replaced while a watch runs) keeps its history of such failures;
                // - one of DbSync's own files (a lock, a backup): never a database, and a backup beside it doubled a folder's
                //   files on every run that piped them all in.
                if (string.IsNullOrWhiteSpace(request.LogPath) && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(RunLog.LogPathVariable))
                    && (failure is { ErrorId: ErrorIds.SourceNotFound or ErrorIds.SourceNotAFile } && !File.Exists(backupPath)
                        || failure is { ErrorId: ErrorIds.SourceNotSqlite } && TryFullPath(request.Path) is { } sidePath && SourceDatabase.SideFile(sidePath) is not null))
                {
                    throw;
                }

                var unrecorded = RunLog.TryAppendBackup(backupPath, new RunLogEntry
                {
                    RunId = runId, NodeId = NodeIdAfterFailure(sqlite, ex), Path = TryFullPath(request.Path) is { } full ? (Secrets.Redact(full) is var redacted && redacted != full && !File.Exists(full) ? redacted : RunLock.TryRealPath(full)) : null, Target = target, StartedAt = started, FinishedAt = started + elapsed,
                    DurationMs = (long)elapsed.TotalMilliseconds,
                    Status = failure is null ? RunStatus.Cancelled : RunStatus.Failed,
                    ErrorId = failure?.ErrorId ?? ErrorIds.Cancelled, Message = failure?.Message ?? "The run was cancelled.",
                });
                if (failure is null)
                {
                    throw new RunCancelledException(runId, ex, cancellationToken);
                }

                if (unrecorded is not null)
                {
                    // The backup is the only record of a run that never started: without it the run id names nothing, and a
                    // script told the attempt is in the backup would look for it in vain (ops exploration, F3).
                    throw new DbSyncException(failure.ErrorId, failure.Category,
                        $"{failure.Message} This attempt is recorded nowhere: {unrecorded.TrimEnd('.')}.", failure.Target, failure);
                }

                failure.RunId = runId;
                throw;
            }

            var result = new SyncResult { RunId = runId, NodeId = capture.NodeId, Path = path, Target = target, StartedAt = started };
            result.Log.BackupPath = backupPath;
            result.Log.Clock = clock;
            result.Log.FilePath = filePath;
            var warnings = capture.Warnings;
            // The file does not keep a change for each target: what one target got is forgotten here, and another never gets it.
            var destination = $"{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}, schema {schema}";
            if (CaptureStore.ReadMeta(sqlite, null, LastTargetKey) is { } previous && previous != destination)
            {
                warnings.Add($"This file last synced to {previous}; this run syncs to {destination}. The changes it syncs are marked synced and will not go to the other target; to bring a target up to date with the whole file, sync it with --resync.");
            }

            if (RunLog.TryAppendBackup(backupPath, [.. entries]) is { } backupProblem)
            {
                warnings.Add("Run log: " + backupProblem);
            }

            try
            {
                await RunAsync(request, schema, destination, sqlite, pg, capture.Captured, result, warnings, progress, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                result.FinishedAt = clock.Now;
                result.Warnings = warnings;
                var cancelled = cancellationToken.IsCancellationRequested && (ex is OperationCanceledException || IsBusy(ex));
                result.Status = cancelled ? SyncStatus.Cancelled : SyncStatus.Failed;
                var failure = cancelled
                    ? new DbSyncException(ErrorIds.Cancelled, DbSyncErrorCategory.OperationStopped, "The run was cancelled; nothing of it was applied.")
                    : ex switch
                    {
                        SqliteException sqliteError => SourceDatabase.Translate(sqliteError, path),
                        // The connection string was parsed long ago: an ArgumentException now is a bug, not a bad string.
                        ArgumentException bug => new DbSyncException(ErrorIds.Unexpected, DbSyncErrorCategory.NotSpecified,
                            $"{bug.GetType().Name}: {bug.Message}", target, bug),
                        _ => TargetDatabase.Translate(ex, builder),
                    };
                await FinishLogAsync(sqlite, null, result, failure, warnings, cancellationToken).ConfigureAwait(false);
                if (cancelled)
                {
                    throw new RunCancelledException(runId, ex, cancellationToken);
                }

                failure.RunId = runId;
                if (failure.ErrorId == ErrorIds.BookkeepingFailed)
                {
                    // PostgreSQL committed: the counts are true, as the run log's entry says (run log exploration, F7).
                    failure.Committed = result;
                }

                if (ReferenceEquals(failure, ex))
                {
                    throw;
                }

                throw failure;
            }

            result.FinishedAt = clock.Now;
            // A COMMIT whose answer was lost and that was found committed on a new connection (CommittedAsync) left this
            // one broken: the send to dbsync.runs and the clock check of --keep-days failed on it ("Connection is not
            // open", blamed on PostgreSQL's clock). They get a new one; when that cannot be had, they fail as before.
            if (pg.State != System.Data.ConnectionState.Open)
            {
                try
                {
                    var fresh = await TargetDatabase.OpenAsync(builder, CancellationToken.None).ConfigureAwait(false);
                    await pg.DisposeAsync().ConfigureAwait(false);
                    pg = fresh;
                }
                catch (Exception ex) when (ex is DbSyncException or NpgsqlException or IOException or TimeoutException or System.Net.Sockets.SocketException)
                {
                    // Reported by the send and the clock check, which fail on the broken connection.
                }
            }

            // PostgreSQL has committed: the run is a success, and a cancellation arriving now must not turn it into
            // "cancelled, nothing applied". Bookkeeping in the file finishes whatever the token says; sending the entry to
            // dbsync.runs, which a later run does too, gives way to it (a cancel request ends a COMMIT's wait for a missing
            // synchronous standby there, as it does the run's own).
            await FinishLogAsync(sqlite, pg, result, null, warnings, cancellationToken).ConfigureAwait(false);
            if (request.KeepDays is { } days)
            {
                if (await RunLog.ClockProblemAsync(pg, () => clock.Now, days).ConfigureAwait(false) is { } clockProblem)
                {
                    result.Log.Error = result.Log.Error is null ? clockProblem : $"{result.Log.Error}; {clockProblem}";
                    warnings.Add("Run log: " + clockProblem);
                }
                else
                {
                    // Never this run's own entry, not even with --keep-days 0: it finished after it started.
                    // More days than the calendar holds keeps everything (AddDays would throw, after PostgreSQL committed).
                    var now = clock.Now;
                    var byAge = days >= (now - DateTime.MinValue).TotalDays ? DateTime.MinValue : now.AddDays(-days);
                    var cutoff = byAge < result.StartedAt ? byAge : result.StartedAt;
                    var pruning = $"'{path}'";
                    try
                    {
                        RunLog.Prune(sqlite, cutoff);
                        // A watch's runs rewrite the backup at most once a day: every run of a watch under --keep-days
                        // drops its oldest line, and a rewrite of a large backup each time took seconds from runs meant
                        // to push within tens of milliseconds (run log exploration, F4).
                        if (request.PruneBackup && backupPath is not null && (!request.ReuseConnection || RunLog.BackupPruneDue(sqlite, now)))
                        {
                            pruning = $"the backup '{backupPath}'";
                            RunLog.PruneBackup(sqlite, backupPath, cutoff, result.NodeId, path);
                            RunLog.NoteBackupPruned(sqlite, now);
                        }
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SqliteException)
                    {
                        // PostgreSQL has committed: like any failure to log, a failed prune is a warning, never a failed run.
                        var problem = $"run log entries older than {days} days could not be removed from {pruning} ({OneLine(ex)}); a later run with --keep-days tries again";
                        result.Log.Error = result.Log.Error is null ? problem : $"{result.Log.Error}; {problem}";
                        warnings.Add("Run log: " + problem);
                    }
                }
            }

            result.Warnings = warnings;
            return result;
        }
        finally
        {
            sqlite?.Dispose();
            runLock?.Dispose();
            if (pg is not null)
            {
                await pg.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The node id of a file a run opened before it failed to start (a --table matching no table, say), or null: its
    /// backup-only entry then carries it, so restore-log finds it as the file's also after the file moved. Not read from
    /// a file another program holds locked (that would wait the busy timeout again) or when the run was cancelled.
    /// </summary>
    private static string? NodeIdAfterFailure(SqliteConnection? sqlite, Exception failure)
    {
        if (sqlite is null || failure is not DbSyncException || IsBusy(failure))
        {
            return null;
        }

        try
        {
            return RunLog.TableExists(sqlite, "_dbsync_meta") ? CaptureStore.ReadMeta(sqlite, null, "node_id") : null;
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string TargetSchemaName(string? requested, bool preserveCase)
    {
        var schema = Identifiers.ToTargetName((requested ?? "").Trim(), preserveCase);
        if (schema.Length == 0 || !Identifiers.FitsPostgres(schema))
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                $"The schema name '{Secrets.Redact(requested ?? "")}' is empty or longer than {Identifiers.PostgresMaxBytes} bytes.");
        }

        // A connection string given as the schema would be created as one, its password in pg_namespace and in every
        // table's target in the run log (ops exploration, F5).
        if (Secrets.Redact(schema) != schema)
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                $"The schema name '{Secrets.Redact(requested ?? "")}' holds a password: it looks like a connection string, which goes in --connection (-ConnectionString).");
        }

        // A table synced into DbSync's own schema could overwrite its bookkeeping (a SQLite table named node_txns would
        // make every node's rows look like another writer's); PostgreSQL's own schemas are not for user tables either.
        return schema is "dbsync" or "information_schema" || schema.StartsWith("pg_", StringComparison.Ordinal)
            ? throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                $"The schema name '{Secrets.Redact(requested ?? "")}' is reserved: {(schema == "dbsync" ? "DbSync keeps its own tables (runs, nodes, node_txns, conflicts) there" : "it belongs to PostgreSQL")}. Choose another schema for the synced tables.")
            : schema;
    }

    /// <summary>What a sync would do, per table, in order; changes neither database (PowerShell's -WhatIf).</summary>
    public Task<Diagnostics.SyncPlan> PlanAsync(SyncRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Diagnostics.Inspector.PlanAsync(request, TargetSchemaName(request.Schema, request.PreserveCase), cancellationToken);
    }

    /// <summary>The state of a file: capture, pending changes, lag, last run, and whether the target answers. Changes nothing.</summary>
    public Task<Diagnostics.DatabaseStatus> GetStatusAsync(Diagnostics.StatusRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        CheckTargetTimeout(request.TargetTimeout);
        return Diagnostics.Inspector.StatusAsync(request, cancellationToken);
    }

    /// <summary>The longest a status or a test waits for the target: Npgsql's connect Timeout takes at most 1024 s.</summary>
    public static readonly TimeSpan MaxTargetTimeout = TimeSpan.FromSeconds(600);

    private static void CheckTargetTimeout(TimeSpan timeout)
    {
        // Zero would mean "no answer can come in time" (a healthy server reported unreachable), and Npgsql refuses a
        // connect Timeout above 1024 s with an exception of its own.
        if (timeout < TimeSpan.FromSeconds(1) || timeout > MaxTargetTimeout)
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                $"The target timeout must be between 1 and {MaxTargetTimeout.TotalSeconds:0} seconds (got {timeout.TotalSeconds:0.###}).");
        }
    }

    /// <summary>Every preflight check of source and target, each Pass, Warning or Fail with a fix. Changes nothing.</summary>
    public Task<IReadOnlyList<Diagnostics.CheckResult>> TestAsync(Diagnostics.ConnectionTestRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        CheckTargetTimeout(request.TargetTimeout);
        return Diagnostics.Inspector.TestAsync(request, TargetSchemaName(request.Schema, request.PreserveCase), cancellationToken);
    }

    /// <summary>A SQLite lock refused: as a SQLite error, or already translated.</summary>
    internal static bool IsBusy(Exception ex) =>
        ex is SqliteException { SqliteErrorCode: var code } && (code & 0xFF) is SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED
        || ex is DbSyncException { ErrorId: ErrorIds.SourceBusy };

    /// <summary>
    /// Records a finished run: the backup first (flushed), then the database with read-back and retries, then, after
    /// a successful run, every entry PostgreSQL has not yet received. Failures to log become warnings.
    /// </summary>
    private static async Task FinishLogAsync(SqliteConnection sqlite, NpgsqlConnection? pg, SyncResult result, DbSyncException? failure,
        List<string> warnings, CancellationToken cancellationToken)
    {
        var entry = RunLogEntry.From(result, failure);
        var problems = new List<string>();
        // The final entries of earlier runs that an append could not write (a full disk) go first: the backup then has
        // every run's end, not a Running line that restore-log would make Abandoned. With no backup path, none is owed.
        var owed = result.Log.BackupPath is null ? [] : RunLog.OwedToBackup(sqlite);
        var backupProblem = RunLog.TryAppendBackup(result.Log.BackupPath, [.. RunLog.ReadOwed(sqlite, owed), entry]);
        result.Log.Backup = backupProblem is null;
        if (backupProblem is not null)
        {
            problems.Add(backupProblem);
        }

        var nowOwed = result.Log.BackupPath is null ? null
            : backupProblem is not null ? [.. owed, entry.RunId]
            : owed.Count > 0 ? [] : (List<Guid>?)null;
        var databaseProblem = RunLog.Record(sqlite, entry, nowOwed);
        result.Log.Database = databaseProblem is null;
        if (databaseProblem is not null)
        {
            problems.Add(databaseProblem + (result.Log.Backup ? $"; it is in the backup '{result.Log.BackupPath}', from which 'dbsync restore-log' brings it back" : ""));
        }

        if (pg is not null && result.Log.Database)
        {
            try
            {
                var unreadable = await RunLog.SendToPostgresAsync(sqlite, pg, cancellationToken).ConfigureAwait(false);
                result.Log.Postgres = true;
                warnings.AddRange(unreadable.Select(problem => "Run log: " + problem));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || cancellationToken.IsCancellationRequested)
            {
                // Logging never fails a run that has committed; the entries stay due for a later run.
                problems.Add(ex is OperationCanceledException
                    ? "the run log was not sent to PostgreSQL (dbsync.runs): the run was cancelled after PostgreSQL committed it; it is sent on a later run"
                    : $"the run log could not be sent to PostgreSQL (dbsync.runs): {OneLine(ex)}; it is sent on a later run");
            }
        }

        if (problems.Count > 0)
        {
            result.Log.Error = string.Join("; ", problems);
            // The backup that could not be written when the run started is already one of the warnings.
            if (!warnings.Contains("Run log: " + result.Log.Error))
            {
                warnings.Add("Run log: " + result.Log.Error);
            }
        }
    }

    /// <summary>
    /// An exception's message as one line, for warnings (docs/cli.md: one line each): PostgreSQL's own text with its
    /// SQLSTATE, not Npgsql's message, which adds lines (POSITION, DETAIL).
    /// </summary>
    internal static string OneLine(Exception ex) => ex is PostgresException pg
        ? $"{pg.SqlState}: {pg.MessageText}"
        : string.Join(' ', ex.Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string? TryFullPath(string? path)
    {
        try
        {
            return string.IsNullOrWhiteSpace(path) ? null : Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return null;
        }
    }

    /// <summary>
    /// Runs the apply phase until it commits: once fast (foreign keys deferred, no savepoints); when PostgreSQL rejects a
    /// row's values, or a value cannot be converted for a straight COPY, once more in careful mode (see
    /// <see cref="ApplyContext.Careful"/>), which holds such rows back; a deadlock or serialization failure is tried
    /// again from the start, up to five times. Every attempt starts from a rolled-back transaction.
    /// </summary>
    private static async Task RunAsync(SyncRequest request, string schema, string destination, SqliteConnection sqlite, NpgsqlConnection pg,
        List<(SourceTable Table, RegisteredTable Registry)> captured, SyncResult result, List<string> warnings,
        IProgress<SyncProgress>? progress, CancellationToken cancellationToken)
    {
        SyncPlanner.CheckNameCollisions(captured.Select(c => c.Table), request.PreserveCase);
        CheckNewestColumn(request, captured);
        CheckNodePartitioned(request.NodePartitioned, captured.Select(c => c.Table));
        var snapshotsMissing = await Conflicts.ConflictStore.EnsureTablesAsync(pg, cancellationToken).ConfigureAwait(false);
        if (snapshotsMissing is not null)
        {
            warnings.Add(snapshotsMissing);
        }

        // While a row PostgreSQL rejected is held, the fast attempt would only fail on it again.
        var careful = Conflicts.HeldRows.AnyRejected(sqlite);
        for (var attempt = 1; ; attempt++)
        {
            var attemptWarnings = new List<string>(warnings);
            try
            {
                var applied = await ApplyAsync(request, schema, sqlite, pg, captured, result, attemptWarnings, careful, snapshotsMissing is null, progress, cancellationToken)
                    .ConfigureAwait(false);
                warnings.Clear();
                warnings.AddRange(attemptWarnings);
                progress?.Report(new SyncProgress("", SyncPhase.Recording, 0, 0, applied.Plans.Count, TimeSpan.Zero) { PercentComplete = ProgressMeter.Percent(SyncPhase.Recording) });
                // PostgreSQL has committed: recording it waits for locks whatever a cancel says.
                SourceDatabase.CancelWaitsWith(sqlite, CancellationToken.None);
                if (RecordSynced(sqlite, result, applied, request.Tables, destination, warnings) is { } completed
                    && RunLog.TryAppendBackup(result.Log.BackupPath, completed) is { } backupProblem)
                {
                    warnings.Add("Run log: " + backupProblem);
                    if (result.Log.BackupPath is not null)
                    {
                        RunLog.OweBackup(sqlite, completed.RunId);
                    }
                }

                return;
            }
            catch (Exception ex) when (!careful && Applier.IsRowProblem(ex) && !cancellationToken.IsCancellationRequested)
            {
                careful = true;
            }
            catch (InsertRaceException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Rare (the window is one table's apply); a writer that keeps winning the race on every attempt fails the run.
                if (attempt >= 5)
                {
                    throw new DbSyncException(ErrorIds.TargetError, DbSyncErrorCategory.WriteError,
                        $"{ex.Message} It happened on {attempt} attempts in a row; nothing was applied. Run again when that writer is quiet.", ex.Table, ex);
                }

                await Task.Delay(Random.Shared.Next(20, 100) * attempt, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure
                && attempt < 5 && !cancellationToken.IsCancellationRequested)
            {
                // Ordered keys and per-table locks make these rare; when one happens anyway, nothing was applied.
                await Task.Delay(Random.Shared.Next(50, 200) * attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Refuses a --node-partitioned pattern that matches none of the tables a run would sync, as a --table miss is
    /// refused. The run checks it before it installs capture or logs itself, and --what-if checks it the same way, so a
    /// dry run never passes what the run refuses (contract exploration, F1).
    /// </summary>
    /// <exception cref="DbSyncException">TableNotFound, naming the pattern and the tables.</exception>
    internal static void CheckNodePartitioned(IReadOnlyList<string> patterns, IEnumerable<SourceTable> synced)
    {
        var names = synced.Select(t => t.Name).ToList();
        foreach (var pattern in patterns.Where(p => !names.Any(n => SyncPlanner.Matches(n, [p]))))
        {
            throw new DbSyncException(ErrorIds.TableNotFound, DbSyncErrorCategory.ObjectNotFound,
                $"--node-partitioned '{Secrets.Redact(pattern)}' matches no synced table. Tables: {string.Join(", ", names)}. Nothing was written.", Secrets.Redact(pattern));
        }
    }

    internal static void CheckNewestColumn(SyncRequest request, List<(SourceTable Table, RegisteredTable Registry)> captured)
    {
        if (request.ConflictPolicy != ConflictPolicy.Newest)
        {
            if (request.NewestColumn is not null)
            {
                throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                    $"--newest-column '{Secrets.Redact(request.NewestColumn)}' is only used with the Newest conflict policy (the policy is {request.ConflictPolicy}).");
            }

            return;
        }

        if (string.IsNullOrWhiteSpace(request.NewestColumn))
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                "The Newest conflict policy needs --newest-column: the timestamp column that says which version of a row is newer.");
        }

        var lacking = captured.Where(c => !c.Table.Columns.Any(col => Identifiers.SqliteNames.Equals(col.Name, request.NewestColumn))).Select(c => c.Table.Name).ToList();
        if (lacking.Count > 0)
        {
            throw new DbSyncException(ErrorIds.NewestColumnMissing, DbSyncErrorCategory.InvalidArgument,
                $"The Newest conflict policy compares column '{Secrets.Redact(request.NewestColumn)}', which table(s) {string.Join(", ", lacking.Select(l => $"'{l}'"))} do not have; sync those tables with another policy (--table). Nothing was written.",
                lacking[0]);
        }
    }

    private static async Task<long> StageAsync(NpgsqlConnection pg, string schema, TablePlan plan, Func<SourceRows> open, bool staged, PgWriter.SourceLayout layout,
        Action<long> progress, CancellationToken cancellationToken, IReadOnlyDictionary<long, string>? tooBig = null)
    {
        using var reader = open();
        return await PgWriter.CopyAsync(pg, schema, plan, reader, staged, layout, progress, cancellationToken, tooBig: tooBig).ConfigureAwait(false);
    }

    /// <summary>
    /// Stages a table in careful mode, holding back the rows PostgreSQL cannot store (54000, "row is too big": more
    /// fixed-width data than a page holds). Such a row fails the whole COPY, and a COPY's error names its row only when
    /// rows are stored one by one (a batched insert reports a later row): once a COPY failed so, the staging table gets a
    /// BEFORE INSERT trigger that does nothing but make PostgreSQL store row by row, and the COPY is repeated under a
    /// savepoint, each time with the row it named staged as refused (its values NULL, never applied, held with
    /// PostgreSQL's reason) until it passes (scale exploration, F3).
    /// </summary>
    private static async Task<long> StageHoldingTooBigAsync(NpgsqlConnection pg, NpgsqlTransaction transaction, string schema, TablePlan plan, Func<SourceRows> open,
        PgWriter.SourceLayout layout, Action<long> progress, CancellationToken cancellationToken)
    {
        var tooBig = new Dictionary<long, string>();
        var staging = Identifiers.Quote(plan.StagingTable);
        for (var attempt = 0; ; attempt++)
        {
            // A failed COPY's counts are counted again by the next.
            var (quarantined, deletes) = (plan.Result.Quarantined, plan.StagedDeletes);
            await PgWriter.ExecuteAsync(pg, transaction, "SAVEPOINT dbsync_stage", cancellationToken).ConfigureAwait(false);
            try
            {
                var rows = await StageAsync(pg, schema, plan, open, staged: true, layout, progress, cancellationToken, tooBig).ConfigureAwait(false);
                await PgWriter.ExecuteAsync(pg, transaction, "RELEASE SAVEPOINT dbsync_stage", cancellationToken).ConfigureAwait(false);
                return rows;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ProgramLimitExceeded && !cancellationToken.IsCancellationRequested)
            {
                await PgWriter.ExecuteAsync(pg, transaction, "ROLLBACK TO SAVEPOINT dbsync_stage; RELEASE SAVEPOINT dbsync_stage", cancellationToken).ConfigureAwait(false);
                (plan.Result.Quarantined, plan.StagedDeletes) = (quarantined, deletes);
                var line = attempt == 0 ? null : TooBigLine(ex, plan.StagingTable);
                if (attempt > 0 && (line is null || tooBig.ContainsKey(line.Value)))
                {
                    throw new DbSyncException(ErrorIds.TargetError, DbSyncErrorCategory.WriteError,
                        $"Table '{plan.Source.Name}': PostgreSQL cannot store one of its rows and named none DbSync could hold back; nothing of the run was applied. PostgreSQL said: {OneLine(ex)}"
                        + (ex.Where is { } where ? $" ({OneLine(new InvalidOperationException(where))})" : ""), plan.Source.Name, ex);
                }

                if (line is { } n)
                {
                    tooBig[n] = $"{Conflicts.HeldRows.RejectedPrefix}: {ex.SqlState}: {ex.MessageText}. PostgreSQL stores a row's fixed-width values (numbers, dates, booleans) in one page of 8 kB: "
                        + "set some of this row's columns to NULL, or split the table in SQLite; then run 'dbsync quarantine --retry'.";
                }
                else
                {
                    await PgWriter.ExecuteAsync(pg, transaction,
                        "CREATE FUNCTION pg_temp._dbsync_one_by_one() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$; " +
                        $"CREATE TRIGGER _dbsync_one_by_one BEFORE INSERT ON {staging} FOR EACH ROW EXECUTE FUNCTION pg_temp._dbsync_one_by_one()",
                        cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>The row a COPY into the staging table failed on, from PostgreSQL's context ("COPY _dbsync_stage_1, line 7", in the server's language).</summary>
    private static long? TooBigLine(PostgresException ex, string stagingTable)
    {
        var match = System.Text.RegularExpressions.Regex.Match(ex.Where ?? "", $@"^COPY ""?{System.Text.RegularExpressions.Regex.Escape(stagingTable)}""?, \D*(\d+)");
        return match.Success && long.TryParse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var line) ? line : null;
    }

    /// <summary>What one committed attempt leaves for the SQLite side; <c>Unrecorded</c>: the log entry of an earlier run PostgreSQL committed but the file never recorded.</summary>
    private sealed record Applied(List<TablePlan> Plans, List<TableSyncResult> Skipped, Dictionary<TablePlan, List<TargetWinsRow>> TargetWins, RunLogEntry? Unrecorded)
    {
        /// <summary>The role could not release the node ids a reset-node left to release: the file keeps them to release.</summary>
        public bool ReleasesKept { get; init; }
    }

    private static async Task<Applied> ApplyAsync(SyncRequest request, string schema, SqliteConnection sqlite, NpgsqlConnection pg,
        List<(SourceTable Table, RegisteredTable Registry)> captured, SyncResult result, List<string> warnings, bool careful, bool snapshots,
        IProgress<SyncProgress>? progress, CancellationToken cancellationToken)
    {
        CheckNamesFitEncoding(pg, schema, captured.Select(c => c.Table), request.PreserveCase);
        CaptureStore.Execute(sqlite, null, Conflicts.HeldRows.RunTableSql);
        var transaction = await pg.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            // Runs into the same tables take turns, table by table in one global order, so nodes never deadlock each
            // other; a run of a node id also locks that node's row (a copy with the same id waits, then is refused).
            var lockNames = captured.Select(c => schema + "." + Identifiers.ToTargetName(c.Table.Name, request.PreserveCase).ToLowerInvariant())
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            using (var locks = new NpgsqlCommand("SELECT count(pg_advisory_xact_lock(hashtextextended(n, 7346277010))) FROM unnest($1::text[]) AS n", pg, transaction))
            {
                locks.Parameters.AddWithValue(lockNames);
                await locks.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            }

            var releasesKept = await Conflicts.NodeIdentity.ReleasePendingAsync(pg, sqlite, cancellationToken).ConfigureAwait(false);
            if (releasesKept is not null)
            {
                warnings.Add(releasesKept);
            }

            if (await Conflicts.NodeIdentity.CheckPredecessorsAsync(pg, transaction, sqlite, result.NodeId, result.Path, cancellationToken).ConfigureAwait(false) is { } predecessor)
            {
                warnings.Add(predecessor);
            }

            var (unrecorded, _, unrecordedEntry, xid) = await Conflicts.NodeIdentity.ClaimAsync(pg, transaction, sqlite, result.NodeId, result.RunId, result.Path, snapshots, cancellationToken)
                .ConfigureAwait(false);
            var targets = await TargetDatabase.ReadTablesAsync(pg, transaction, schema, cancellationToken).ConfigureAwait(false);
            var plans = new List<TablePlan>();
            var skipped = new List<TableSyncResult>();
            foreach (var (table, registry) in SyncPlanner.ParentsFirst(captured, c => c.Table))
            {
                try
                {
                    var plan = SyncPlanner.Plan(table, registry, schema, targets, request.PreserveCase, request.Resync,
                        request.NodePartitioned.Count > 0 && SyncPlanner.Matches(table.Name, request.NodePartitioned));
                    plan.NodeId = result.NodeId;
                    plan.Result.NodePartitioned = plan.NodeColumn is not null;
                    if (plan.Redefined)
                    {
                        warnings.Add($"Table '{table.Name}' was redefined in SQLite since the last sync, with the same columns (rebuilt, a column dropped and added again as a migration changing a DEFAULT does, a column's name changed in case only, or the table renamed away and back): SQLite may have rewritten its rows without firing a trigger, so it is copied again in full.");
                    }
                    plans.Add(plan);
                }
                catch (DbSyncException ex) when (ex.ErrorId is ErrorIds.SchemaChanged or ErrorIds.ReservedName or ErrorIds.UnknownCollation or ErrorIds.TableTooWide)
                {
                    // One table whose source shape changed stops alone; the others go on.
                    skipped.Add(new TableSyncResult
                    {
                        Name = table.Name, Target = Identifiers.Quote(schema, Identifiers.ToTargetName(table.Name, request.PreserveCase)),
                        Status = SyncStatus.Failed, ErrorId = ex.ErrorId, Category = ex.Category, Message = ex.Message,
                    });
                }
            }

            result.Tables = plans.Select(p => p.Result).Concat(skipped).ToList();
            var count = plans.Count;
            var meter = new ProgressMeter(plans);
            void Report(TablePlan plan, SyncPhase phase, long rows, Stopwatch clock) =>
                progress?.Report(new SyncProgress(plan.Source.Name, phase, rows, plans.IndexOf(plan) + 1, count, clock.Elapsed) { PercentComplete = meter.Percent(plan, phase, rows) });

            await PgWriter.ExecuteAsync(pg, transaction, careful ? "SET CONSTRAINTS ALL IMMEDIATE" : "SET CONSTRAINTS ALL DEFERRED", cancellationToken).ConfigureAwait(false);
            if (plans.Any(p => p.CreateTarget))
            {
                await PgWriter.EnsureSchemaAsync(pg, transaction, schema, cancellationToken).ConfigureAwait(false);
            }

            foreach (var plan in plans)
            {
                if (plan.CreateTarget)
                {
                    await PgWriter.CreateTableAsync(pg, transaction, schema, plan, cancellationToken).ConfigureAwait(false);
                }

                await PgWriter.AddColumnsAsync(pg, transaction, schema, plan, cancellationToken).ConfigureAwait(false);
                if (plan.Mode == LoadMode.CopyUpsert && !request.Resync && !await PgWriter.HasRowsAsync(pg, transaction, schema, plan, cancellationToken).ConfigureAwait(false))
                {
                    plan.Mode = LoadMode.CopyDirect;
                }

                var initialLoad = plan.CreateTarget || plan.Mode == LoadMode.CopyDirect;
                if (plan.Mode == LoadMode.CopyDirect && (careful || plan.Verify))
                {
                    // A straight COPY cannot leave one row out: in careful mode every row goes through staging, and so
                    // does every row of a table whose trigger, rule or row security may not store it as sent (the rows
                    // PostgreSQL did not store are then found and held back).
                    plan.Mode = LoadMode.CopyUpsert;
                }

                if (plan.Mode != LoadMode.CopyDirect)
                {
                    await PgWriter.CreateStagingAsync(pg, transaction, schema, plan, cancellationToken).ConfigureAwait(false);
                }

                plan.Result.Mode = initialLoad ? "InitialLoad" : plan.Mode switch
                {
                    LoadMode.CopyUpsert => request.Resync ? "Resync" : "FullCopy",
                    _ => "Push",
                };
            }

            // One read transaction: every table is read from the same committed state of the file, so foreign keys
            // hold in what PostgreSQL receives. Writers can still commit meanwhile in WAL mode; in rollback-journal
            // mode they wait (up to their busy timeout) until the rows are streamed.
            // On a read-only connection of its own, without SQLite's per-value mutex (see SnapshotReader).
            using (var read = SnapshotReader.Begin(sqlite.DataSource, SourceDatabase.BusyTimeoutSeconds(sqlite), cancellationToken))
            {
                foreach (var plan in plans)
                {
                    plan.Snapshot = read.Scalar(CaptureStore.MaxSequenceSql(plan.Registry));
                    plan.SnapshotEntry = plan.Snapshot > 0 ? read.Scalar(CaptureStore.EntrySql(plan.Registry, plan.Snapshot)) : 0;
                    // Changes an unrecorded run already committed count as applied. Nothing but the bookkeeping of a
                    // commit removes changes from the log, and that run's was never done: a log without that run's last
                    // change is not the file it read. It is a copy taken while that run was running (or restored from
                    // one), which lacks changes PostgreSQL got from the original; its node id is the original's. The change
                    // is known by its random number too: a copy that wrote as many changes of its own as the run read has
                    // one under the same seq, and every one of its changes up to there was taken for applied and never
                    // pushed (fleet exploration, F1). A run of an older DbSync recorded the number only.
                    if (unrecorded.TryGetValue(plan.Registry.Id, out var applied) && applied.Through > 0)
                    {
                        var through = applied.Through;
                        if (through > plan.Snapshot || read.Scalar(CaptureStore.HoldsSequenceSql(plan.Registry, through, applied.ThroughEntry)) != 1)
                        {
                            throw new DbSyncException(ErrorIds.DuplicateNodeId, DbSyncErrorCategory.InvalidOperation,
                                $"'{result.Path}' lacks changes that run {applied.Runs.MaxBy(r => r.Value).Key} of its node read from it and PostgreSQL committed (table '{plan.Source.Name}', change {through}): " +
                                "it is a copy of the file taken while that run was running, or restored from one, and PostgreSQL has changes this file does not. " +
                                "Or that run is still running on this same file, reached by another path whose lock this run cannot see (a bind mount into a container, which has its own lock files; a share another host mounts); then it is no copy: do not reset it, sync again once that run has ended, and give every run one path to the file. " +
                                $"If it is a copy, run 'dbsync reset-node --path <this file> --connection ...' (Reset-DbSyncNode) to give it an identity of its own, then 'dbsync sync --resync' to make PostgreSQL match it. Nothing was written.",
                                result.Path);
                        }

                        plan.AppliedThrough = through;
                        plan.AppliedAll = applied.AppliedAll;
                        plan.UnrecordedRuns = applied.Runs;
                    }
                }

                if (progress is not null)
                {
                    meter.Estimate(read);
                }

                foreach (var plan in plans)
                {
                    var clock = Stopwatch.StartNew();
                    var full = plan.Mode != LoadMode.Push;
                    var staged = plan.Mode != LoadMode.CopyDirect;
                    var phase = full ? SyncPhase.Copying : SyncPhase.Staging;
                    Report(plan, phase, 0, clock);
                    SourceRows Open() => full
                        ? SourceRows.Open(read.Handle, CaptureStore.FullQuery(plan.Source, withKeyLiterals: staged))
                        : SourceRows.Open(read.Handle, CaptureStore.PendingQuery(plan.Registry, plan.Source), ("$s", plan.Snapshot), ("$a", plan.AppliedThrough));
                    var layout = full
                        ? staged ? new PgWriter.SourceLayout(-1, [], -1, -1, plan.Source.Columns.Count) : PgWriter.SourceLayout.Direct
                        : PushLayout(plan);
                    var rows = careful
                        ? await StageHoldingTooBigAsync(pg, transaction, schema, plan, Open, layout, r => Report(plan, phase, r, clock), cancellationToken).ConfigureAwait(false)
                        : await StageAsync(pg, schema, plan, Open, staged, layout, r => Report(plan, phase, r, clock), cancellationToken).ConfigureAwait(false);
                    if (plan.Mode == LoadMode.CopyDirect)
                    {
                        plan.Result.Inserted = rows;
                    }
                    else
                    {
                        plan.StagedRows = rows;
                    }

                    if (plan.Mode == LoadMode.CopyUpsert && !request.Resync)
                    {
                        // A whole table copied over rows PostgreSQL already has (a column was added, or a first load
                        // committed there but not recorded here before a crash) brings every row that exists; the rows
                        // deleted since are only in the change log, and are staged as deletes after them.
                        using var deletes = SourceRows.Open(read.Handle, CaptureStore.PendingDeletesQuery(plan.Registry, plan.Source), ("$s", plan.Snapshot), ("$a", plan.AppliedThrough));
                        plan.StagedRows += await PgWriter.CopyAsync(pg, schema, plan, deletes, staging: true, PushLayout(plan), r => Report(plan, phase, rows + r, clock),
                            cancellationToken, firstRow: rows).ConfigureAwait(false);
                    }

                    meter.Staged(plan, plan.StagedRows - plan.StagedDeletes);
                }

                read.Commit();
            }

            foreach (var plan in plans.Where(p => p.CreateTarget))
            {
                await PgWriter.AddPrimaryKeyAsync(pg, transaction, schema, plan, cancellationToken).ConfigureAwait(false);
            }

            if (careful)
            {
                // Checked row by row from the start, so that an orphan is held back rather than failing the commit.
                await AddForeignKeysAsync(pg, transaction, schema, plans, warnings, cancellationToken).ConfigureAwait(false);
            }

            var context = new ApplyContext
            {
                Pg = pg, Transaction = transaction, Schema = schema, NodeId = result.NodeId, RunId = result.RunId, Policy = request.ConflictPolicy,
                NewestColumn = request.NewestColumn, BatchSize = request.BatchSize, Careful = careful,
            };
            // A push's foreign keys are checked once per key after the writes, rather than by PostgreSQL row by row, when
            // nothing else needs the triggers; careful mode needs PostgreSQL's own immediate checks to find the rows.
            // The tables with conflicts, recorded once their writes are done and checked (Applier.RecordAsync).
            var resolved = new List<TablePlan>();
            var batched = careful ? null : await BatchedForeignKeys.TryBeginAsync(pg, transaction, schema, plans, cancellationToken).ConfigureAwait(false);
            result.ForeignKeysBatched = batched is not null;
            foreach (var plan in plans.Where(p => p.Mode != LoadMode.CopyDirect))
            {
                var clock = Stopwatch.StartNew();
                await PgWriter.PrepareStagingAsync(pg, transaction, plan, request.BatchSize, cancellationToken).ConfigureAwait(false);
                if (!request.Resync)
                {
                    if (Conflicts.HeldRows.RefusedKeys(sqlite, plan.Registry) is { Length: > 0 } refused)
                    {
                        await Applier.MarkRefusedAsync(context, plan, refused, cancellationToken).ConfigureAwait(false);
                    }

                    if (plan.AppliedThrough > 0 && plan.Mode == LoadMode.Push)
                    {
                        await Applier.RecoverTargetWinsAsync(context, plan, cancellationToken).ConfigureAwait(false);
                        if (plan.AppliedAll)
                        {
                            // After the refused rows are marked: those are decided again, not taken for applied.
                            await Applier.SkipAppliedAsync(context, plan, cancellationToken).ConfigureAwait(false);
                        }
                    }

                    if (await Applier.ClassifyAsync(context, plan, r => Report(plan, SyncPhase.Applying, r, clock), cancellationToken).ConfigureAwait(false) > 0)
                    {
                        resolved.Add(plan);
                        await Applier.ResolveAsync(context, plan, cancellationToken).ConfigureAwait(false);
                        await Applier.TouchAsync(context, plan, cancellationToken).ConfigureAwait(false);
                    }
                }

                try
                {
                    await Applier.UpsertAsync(context, plan, r => Report(plan, SyncPhase.Applying, r, clock), cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.CardinalityViolation)
                {
                    // ON CONFLICT met one target row twice in one statement: two rows of the file are one key in PostgreSQL.
                    throw new DbSyncException(ErrorIds.TargetError, DbSyncErrorCategory.WriteError,
                        $"Table '{plan.Source.Name}': two changed rows have primary keys ({string.Join(", ", plan.Source.KeyColumns.Select(k => k.Name))}) that SQLite tells apart but PostgreSQL stores as one key: "
                        + "an untyped or NUMERIC key's 1 and '1', a date-time key written two ways, a BOOLEAN key's 1 and 'true'. Make those keys distinct in SQLite (docs/capture.md). "
                        + $"Nothing of the run was applied. PostgreSQL said: {ex.SqlState}: {ex.MessageText}", plan.Source.Name, ex);
                }
                if (plan.DeleteMissing || plan.Mode == LoadMode.CopyUpsert)
                {
                    if (await PgWriter.DeleteMissingAsync(pg, transaction, schema, plan, onlyOwn: !plan.DeleteMissing, careful, cancellationToken).ConfigureAwait(false) is { } left)
                    {
                        warnings.Add(left);
                    }
                }
            }

            foreach (var plan in Enumerable.Reverse(plans).Where(p => p.Mode != LoadMode.CopyDirect && p.StagedDeletes > 0))
            {
                await Applier.DeleteAsync(context, plan, cancellationToken).ConfigureAwait(false);
            }

            // A trigger, rule or row security may have stored a row otherwise than sent, or not at all, without an error:
            // on those tables only, every written row is compared with what was sent, and a row that differs is held back
            // rather than marked synced.
            foreach (var plan in plans.Where(p => p.Verify && p.Mode != LoadMode.CopyDirect && p.StagedRows > 0))
            {
                await Applier.VerifyAsync(context, plan, cancellationToken).ConfigureAwait(false);
            }

            if (batched is not null)
            {
                progress?.Report(new SyncProgress("", SyncPhase.Checking, batched.Count, 0, count, TimeSpan.Zero) { PercentComplete = ProgressMeter.Percent(SyncPhase.Checking) });
                await batched.CheckAndEndAsync(pg, transaction, cancellationToken).ConfigureAwait(false);
            }

            if (!careful)
            {
                await AddForeignKeysAsync(pg, transaction, schema, plans, warnings, cancellationToken).ConfigureAwait(false);
            }

            // The identity of a table DbSync created; and of a key column GENERATED BY DEFAULT AS IDENTITY, as DbSync
            // creates them, in a table the file does not remember creating: a crash between the first load's commit and
            // its bookkeeping loses that memory, and the sequence then lagged for good behind the keys pushed.
            foreach (var plan in plans)
            {
                if (await PgWriter.AdvanceSequenceAsync(pg, transaction, schema, plan, identityOnly: !plan.Registry.TargetCreated, cancellationToken).ConfigureAwait(false) is { } lagging)
                {
                    warnings.Add(lagging);
                }
            }

            foreach (var plan in resolved)
            {
                await Applier.RecordAsync(context, plan, cancellationToken).ConfigureAwait(false);
            }

            var targetWins = new Dictionary<TablePlan, List<TargetWinsRow>>();
            foreach (var plan in plans.Where(p => p.Mode != LoadMode.CopyDirect))
            {
                targetWins[plan] = await Applier.CollectAsync(context, plan, sqlite, cancellationToken).ConfigureAwait(false);
            }

            if (snapshots)
            {
                // Committed with the changes: if this process dies before the file records them, the next run knows.
                // What earlier unrecorded runs applied goes on with it: of the tables this run did not cover, the file
                // records nothing when it records this run.
                await Conflicts.NodeIdentity.RecordSnapshotsAsync(pg, transaction, result.NodeId, plans.Select(p => (p.Registry.Id, p.Snapshot, p.SnapshotEntry)),
                    RunLogEntry.Committed(result), unrecorded, cancellationToken).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new SyncProgress("", SyncPhase.Committing, plans.Sum(p => p.Result.Inserted + p.Result.Updated + p.Result.Deleted), 0, count, TimeSpan.Zero)
            {
                PercentComplete = ProgressMeter.Percent(SyncPhase.Committing),
            });
            // A cancel during the COMMIT is a cancel request to the server, whose answer says what happened: an error
            // (57014, the COMMIT stopped before it was done) means rolled back; a COMMIT that completes means committed.
            // The wait it ends is a synchronous standby's: with none connected, PostgreSQL waits for ever after committing
            // locally, and the run ignored SIGTERM and Ctrl+C (target exploration, F24). A cancel there makes PostgreSQL
            // stop waiting, with a WARNING that the transaction committed locally: the run is recorded, and says so.
            var commitWarnings = new List<string>();
            void OnNotice(object sender, NpgsqlNoticeEventArgs e)
            {
                if (e.Notice.Severity is "WARNING" or "NOTICE")
                {
                    commitWarnings.Add(e.Notice.MessageText + (e.Notice.Detail is { Length: > 0 } detail ? " " + detail : ""));
                }
            }

            pg.Notice += OnNotice;
            try
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested && ex.InnerException is PostgresException)
            {
                // PostgreSQL answered the cancel with an error: the transaction was rolled back.
                throw;
            }
            catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
            {
                // Cancelled before the COMMIT went out: the connection is still open with the transaction in it.
                if (pg.FullState.HasFlag(System.Data.ConnectionState.Open))
                {
                    throw;
                }

                // No answer to the cancel in time: Npgsql broke the connection, and only a new one can tell.
                if (await CommittedAsync(request, result.NodeId, result.RunId, xid).ConfigureAwait(false) is not true)
                {
                    throw new OperationCanceledException("The run was cancelled while PostgreSQL committed it, and PostgreSQL did not answer: the changes stay pending; the next run finds out whether it committed and applies nothing twice.", ex, cancellationToken);
                }
            }
            catch (Exception ex) when (ex is not PostgresException && (ex is NpgsqlException or IOException or ObjectDisposedException or TimeoutException))
            {
                // The connection broke with the COMMIT sent: PostgreSQL may have committed. This run's claim of its node
                // (dbsync.nodes.last_run) was in the transaction, so a new connection can tell.
                if (await CommittedAsync(request, result.NodeId, result.RunId, xid).ConfigureAwait(false) is not { } committed)
                {
                    throw new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                        $"The connection to PostgreSQL broke while it committed this run, and PostgreSQL could not be asked whether it did: it may have. The changes stay pending; the next run finds out and applies nothing twice. ({ex.Message})",
                        null, ex);
                }

                if (!committed)
                {
                    throw;
                }
            }
            finally
            {
                pg.Notice -= OnNotice;
            }

            if (cancellationToken.IsCancellationRequested && commitWarnings.Count > 0)
            {
                warnings.Add($"The run was cancelled while PostgreSQL committed it; PostgreSQL had committed it and says: {string.Join(" ", commitWarnings)} The run is recorded as committed.");
            }

            return new Applied(plans, skipped, targetWins, unrecordedEntry) { ReleasesKept = releasesKept is not null };
        }
    }

    /// <summary>How long a run whose connection broke during its COMMIT waits for PostgreSQL to finish that transaction.</summary>
    private static readonly TimeSpan CommitSettleTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Whether the run's transaction committed, asked on a new connection after the old one broke during COMMIT. The
    /// transaction may still be under way there (a COMMIT the network delivers late, a pooler that forwards it after
    /// the client is gone): its status (<c>txid_status</c>) is awaited, up to <see cref="CommitSettleTimeout"/>, and
    /// only a committed or aborted transaction is an answer. Where the status is unknown (a server before 10), the
    /// transaction set the node's last run to this run. Null when PostgreSQL cannot be asked, or the transaction is
    /// still in progress when the wait ends.
    /// </summary>
    private static async Task<bool?> CommittedAsync(SyncRequest request, string nodeId, Guid runId, long xid)
    {
        try
        {
            var builder = TargetDatabase.ParseConnectionString(request.ConnectionString, request.Credential);
            builder.Pooling = false;
            var check = await TargetDatabase.OpenAsync(builder, CancellationToken.None).ConfigureAwait(false);
            await using (check.ConfigureAwait(false))
            {
                var clock = Stopwatch.StartNew();
                while (true)
                {
                    using var status = new NpgsqlCommand("SELECT txid_status($1)", check);
                    status.Parameters.AddWithValue(xid);
                    var state = await status.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false) as string;
                    if (state is "committed" or "aborted")
                    {
                        return state == "committed";
                    }

                    if (state != "in progress")
                    {
                        break;
                    }

                    if (clock.Elapsed > CommitSettleTimeout)
                    {
                        return null;
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None).ConfigureAwait(false);
                }

                using var read = new NpgsqlCommand("SELECT last_run::text FROM dbsync.nodes WHERE node_id = $1", check);
                read.Parameters.AddWithValue(nodeId);
                return await read.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false) is string last
                    && string.Equals(last, runId.ToString(), StringComparison.OrdinalIgnoreCase);
            }
        }
        catch (Exception ex) when (ex is DbSyncException or NpgsqlException or IOException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return null;
        }
    }

    /// <summary>Where <see cref="CaptureStore.PendingQuery"/> puts the bookkeeping columns after the table's own.</summary>
    private static PgWriter.SourceLayout PushLayout(TablePlan plan)
    {
        var columns = plan.Source.Columns.Count;
        var keyCount = plan.Source.KeyColumns.Count;
        return new PgWriter.SourceLayout(columns + keyCount + 1, Enumerable.Range(columns, keyCount).ToList(), columns + keyCount,
            columns + keyCount + 2, columns + keyCount + 3, columns + keyCount + 4);
    }

    /// <summary>
    /// In a database whose encoding is not UTF8, the schema, table and column names must be ones it can hold: PostgreSQL
    /// would otherwise fail the run's first statement naming them (its table locks) with a bare 22P05 naming nothing.
    /// </summary>
    /// <exception cref="DbSyncException">TargetError naming the table and the name, before anything is written.</exception>
    private static void CheckNamesFitEncoding(NpgsqlConnection pg, string schema, IEnumerable<SourceTable> tables, bool preserveCase)
    {
        if (ServerEncoding.Of(pg) is not { } encoding)
        {
            return;
        }

        var names = new List<(string What, string Name, string? Table)> { ("The schema", schema, null) };
        foreach (var table in tables)
        {
            names.Add(("Table", Identifiers.ToTargetName(table.Name, preserveCase), table.Name));
            names.AddRange(table.Columns.Select(c => ($"Table '{table.Name}', column", Identifiers.ToTargetName(c.Name, preserveCase), (string?)table.Name)));
        }

        foreach (var (what, name, table) in names)
        {
            if (!encoding.CanHold(name))
            {
                throw new DbSyncException(ErrorIds.TargetError, DbSyncErrorCategory.InvalidData,
                    $"{what} '{name}': the name has a character the PostgreSQL database's encoding {encoding.Name} does not have, so PostgreSQL cannot create it. "
                    + "Rename it in SQLite, or sync into a database created with ENCODING 'UTF8'. Nothing was written.", table);
            }
        }
    }

    /// <summary>The file's meta key for where it last synced to (server, database, schema): a run elsewhere warns.</summary>
    private const string LastTargetKey = "last_target";

    /// <summary>
    /// After PostgreSQL committed: sets the rows the target won to its version (uncaptured), records held rows, and
    /// forgets the synced changes, in one SQLite transaction, retried when SQLite refuses it at once as BUSY. It also
    /// counts the change-log entries left pending in the selected tables (<see cref="SyncResult.ChangeLogEntriesLeft"/>).
    /// </summary>
    private static RunLogEntry? RecordSynced(SqliteConnection sqlite, SyncResult result, Applied applied, IReadOnlyList<string> tables, string destination,
        List<string> warnings)
    {
        // PostgreSQL has committed: from here on a failure must not be reported as "nothing applied".
        var refusedBefore = new Dictionary<(long TableId, string Literals), string>();
        for (var attempt = 1; ; attempt++)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                using var write = sqlite.BeginTransaction(deferred: false);
                var refused = new List<string>();
                var refusedRows = new List<(TablePlan Plan, int Count)>();
                long added = 0;
                foreach (var plan in applied.Plans)
                {
                    if (applied.TargetWins.TryGetValue(plan, out var rows) && rows.Count > 0)
                    {
                        // Each version the file refused is a row held (quarantine lists it): counted so, which makes the
                        // run PartiallySucceeded (exit 3), as any run that holds rows back.
                        var warned = LocalWriter.Apply(sqlite, write, plan, rows, refusedBefore);
                        refusedRows.Add((plan, warned.Count));
                        refused.AddRange(warned);
                    }

                    if (plan.Mode != LoadMode.CopyDirect)
                    {
                        added += Conflicts.HeldRows.Record(sqlite, write, plan.Registry, plan.Snapshot);
                    }

                    CaptureStore.MarkSynced(sqlite, write, plan.Registry, plan.Snapshot, plan.Source.RecordedSignature, CaptureStore.KeySignatureOf(plan.Source));
                }

                Conflicts.NodeIdentity.RecordCommitted(sqlite, write, result.RunId);
                // The run's entry with its counts, still Running, in the transaction that records its commit: a process that
                // dies before the final entry is written leaves one that the next run marks Abandoned with what PostgreSQL
                // committed (RunLog.MarkAbandoned). Written only afterwards, it stayed Abandoned with no counts for good,
                // since the file had recorded the commit and so no later run took the run for an unrecorded one.
                foreach (var (plan, count) in refusedRows)
                {
                    plan.Result.Quarantined += count;
                }

                var recorded = RunLogEntry.Committed(result);
                foreach (var (plan, count) in refusedRows)
                {
                    plan.Result.Quarantined -= count;
                }

                recorded.Status = RunStatus.Running;
                RunLog.Write(sqlite, write, recorded);
                var completed = applied.Unrecorded is { } unrecorded ? RunLog.CompleteCommitted(sqlite, write, unrecorded, result.RunId) : null;
                if (!applied.ReleasesKept)
                {
                    Conflicts.NodeIdentity.ForgetPendingReleases(sqlite, write);
                }

                CaptureStore.WriteMeta(sqlite, write, LastTargetKey, destination);
                // Of the tables this run read, only the entries it saw: one committed since is new work, not left. The
                // entries this transaction gave rows a whole-table copy held back (which had none) are left too: counted as
                // new, each such row started another run at once rather than waiting for the interval.
                result.ChangeLogEntriesLeft = added + CaptureStore.CountLogEntries(sqlite, write,
                    CaptureStore.ReadRegistry(sqlite, write).Values.Where(r => SyncPlanner.Selects(r.Name, tables)),
                    applied.Plans.ToDictionary(p => p.Registry.Id, p => p.Snapshot));
                write.Commit();
                warnings.AddRange(refused);
                foreach (var (plan, count) in refusedRows)
                {
                    plan.Result.Quarantined += count;
                }

                var held = applied.Plans.Any(p => p.Result.Quarantined > 0 || p.Result.Conflicts > p.Result.ConflictsResolved);
                result.Status = applied.Skipped.Count > 0 || held ? SyncStatus.PartiallySucceeded : SyncStatus.Succeeded;
                return completed;
            }
            catch (TransactionRolledBackException ex) when (refusedBefore.TryAdd((ex.TableId, ex.Literals), ex.Message))
            {
                // The transaction is gone, and with it everything this attempt wrote: the next holds that row unwritten.
                attempt--;
            }
            catch (SqliteException ex) when (IsBusy(ex) && attempt < 5 && clock.Elapsed < TimeSpan.FromSeconds(SourceDatabase.BusyTimeoutSeconds(sqlite)))
            {
                // SQLite answers BUSY at once, without waiting out the busy timeout, when waiting could deadlock
                // with another writer; its documented remedy is to run the transaction again. A lock held past the
                // busy timeout is not retried: that is a real failure.
                Thread.Sleep(100 * attempt);
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException or FormatException or OverflowException or TransactionRolledBackException)
            {
                throw new DbSyncException(ErrorIds.BookkeepingFailed, DbSyncErrorCategory.WriteError,
                    $"The changes were committed to PostgreSQL but could not be marked synced in '{sqlite.DataSource}' ({ex.Message}). They stay pending; the next run applies them again, which changes nothing.",
                    sqlite.DataSource, ex);
            }
        }
    }

    private static async Task AddForeignKeysAsync(NpgsqlConnection pg, NpgsqlTransaction transaction, string schema, List<TablePlan> plans,
        List<string> warnings, CancellationToken cancellationToken)
    {
        var byName = plans.ToDictionary(p => p.Source.Name, Identifiers.SqliteNames);
        // A table this run creates gets its foreign keys; so does an existing table whose parent this run creates again: a
        // DBA's DROP TABLE parent CASCADE took the child's key with it, and the parent came back without it, silently
        // (schema exploration, M3).
        foreach (var child in plans)
        {
            foreach (var fk in child.Source.ForeignKeys)
            {
                var restored = !child.CreateTarget;
                if (restored && !(byName.TryGetValue(fk.ParentTable, out var created) && created.CreateTarget))
                {
                    continue;
                }

                var what = $"Foreign key {child.Source.Name}({string.Join(", ", fk.Columns)}) -> {fk.ParentTable}";
                if (!byName.TryGetValue(fk.ParentTable, out var parent))
                {
                    warnings.Add($"{what} was not created in PostgreSQL: table {fk.ParentTable} is not synced in this run.");
                    continue;
                }

                var parentColumns = fk.ParentColumns.Count > 0 ? fk.ParentColumns : parent.Source.KeyColumns.Select(k => k.Name).ToList();
                var isKey = parentColumns.Count == parent.Source.KeyColumns.Count &&
                    parentColumns.All(c => parent.Source.KeyColumns.Any(k => string.Equals(k.Name, c, StringComparison.OrdinalIgnoreCase)));
                if (!isKey || fk.Columns.Count != parentColumns.Count)
                {
                    warnings.Add($"{what} was not created in PostgreSQL: it does not reference {fk.ParentTable}'s primary key.");
                    continue;
                }

                if ((child.NodeColumn is null) != (parent.NodeColumn is null))
                {
                    warnings.Add($"{what} was not created in PostgreSQL: only one of the two tables is node-partitioned.");
                    continue;
                }

                var childColumns = fk.Columns.Select(c => child.TargetColumns[child.IndexOf(c)]).ToList();
                var referenced = parentColumns.Select(c => parent.TargetColumns[parent.IndexOf(c)]).ToList();
                if (child.NodeColumn is not null)
                {
                    // Both partitioned: a node's rows reference that node's parents.
                    childColumns.Insert(0, child.NodeColumn);
                    referenced.Insert(0, parent.NodeColumn!);
                }

                if (!restored)
                {
                    await PgWriter.AddForeignKeyAsync(pg, transaction, schema, child, childColumns, parent, referenced, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                // On a table an administrator may own, with rows of its own: a refusal (not the owner, a row whose parent
                // the file lacks) is a warning, never the run's failure.
                await PgWriter.ExecuteAsync(pg, transaction, "SAVEPOINT dbsync_foreign_key", cancellationToken).ConfigureAwait(false);
                try
                {
                    await PgWriter.AddForeignKeyAsync(pg, transaction, schema, child, childColumns, parent, referenced, cancellationToken).ConfigureAwait(false);
                    await PgWriter.ExecuteAsync(pg, transaction, "RELEASE SAVEPOINT dbsync_foreign_key", cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (ex.SqlState.StartsWith("23", StringComparison.Ordinal) || ex.SqlState is PostgresErrorCodes.InsufficientPrivilege)
                {
                    await PgWriter.ExecuteAsync(pg, transaction, "ROLLBACK TO SAVEPOINT dbsync_foreign_key; RELEASE SAVEPOINT dbsync_foreign_key", cancellationToken).ConfigureAwait(false);
                    warnings.Add($"{what} was not created again in PostgreSQL, though this run created table {fk.ParentTable} again (it was dropped, and its foreign keys with it): {OneLine(ex)}. " +
                        $"As the owner of {Identifiers.Quote(schema, child.TargetName)}, once its rows all have parents: ALTER TABLE {Identifiers.Quote(schema, child.TargetName)} ADD FOREIGN KEY ({string.Join(", ", childColumns.Select(Identifiers.Quote))}) " +
                        $"REFERENCES {Identifiers.Quote(schema, parent.TargetName)} ({string.Join(", ", referenced.Select(Identifiers.Quote))}) DEFERRABLE INITIALLY IMMEDIATE;");
                }
            }
        }
    }

    /// <summary>Reads the run log from the SQLite file, newest first. Never writes to the database.</summary>
    public Task<IReadOnlyList<RunLogEntry>> GetLogAsync(LogQuery query, CancellationToken cancellationToken = default) =>
        GetLogAsync(query, new List<string>(), cancellationToken);

    /// <summary>
    /// Reads the run log from the SQLite file, newest first; a row that cannot be read (a hand edit) is left out and
    /// named in <paramref name="warnings"/>. Never writes to the database.
    /// </summary>
    public async Task<IReadOnlyList<RunLogEntry>> GetLogAsync(LogQuery query, ICollection<string> warnings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Last is < 1)
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument, $"--last must be at least 1 (got {query.Last}).");
        }

        var path = SourceDatabase.Validate(query.Path);
        var noRunActive = await NoRunActiveAsync(path, cancellationToken).ConfigureAwait(false);
        // A cancel ends a wait for another program's lock at once.
        using var sqlite = SourceDatabase.OpenCancellable(path, TimeSpan.FromSeconds(30), cancellationToken);
        try
        {
            return RunLog.Query(sqlite, query, noRunActive, RunLog.BackupPathFor(path, query.BackupPath), warnings);
        }
        catch (SqliteException ex)
        {
            throw SourceDatabase.Translate(ex, path, cancellationToken);
        }
    }

    /// <summary>Restores run log entries from a JSON-lines backup into the SQLite file.</summary>
    public async Task<RestoreLogResult> RestoreLogAsync(RestoreLogRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = SourceDatabase.Validate(request.Path);
        // A backup named here is only read: it is named in messages as given, its links unresolved.
        var backup = string.IsNullOrWhiteSpace(request.BackupPath) ? RunLog.BackupPathFor(path, null)! : Path.GetFullPath(request.BackupPath);
        // Before anything is created: a restore that cannot read its backup must not add DbSync's tables to the file.
        RunLog.CheckBackup(backup);
        // A what-if changes nothing, so it does not wait behind a sync for the run lock (it used to, and failed with
        // LockTimeout after 30 s; contract exploration, F6): it only asks whether a run holds it now, which decides how it
        // shows a backup's Running entry, as log does.
        var noRunActive = !request.WhatIf || await NoRunActiveAsync(path, cancellationToken).ConfigureAwait(false);
        using var runLock = request.WhatIf ? null : await RunLock.AcquireAsync(path, request.LockTimeout, cancellationToken).ConfigureAwait(false);
        using var sqlite = SourceDatabase.OpenCancellable(path, TimeSpan.FromSeconds(30), cancellationToken);
        try
        {
            CaptureStore.CheckNotNewer(sqlite, null);
            var nodeId = RunLog.TableExists(sqlite, "_dbsync_meta") ? CaptureStore.ReadMeta(sqlite, null, "node_id") : null;
            if (!RunLog.TableExists(sqlite, "_dbsync_runs"))
            {
                // A file without a run log (capture never enabled, or purged) gets only the run log's table, and only when
                // the backup has entries of this file: it gains no node id and no capture, and restoring nothing leaves
                // it as it was.
                using var scratch = new SqliteConnection("Data Source=:memory:");
                scratch.Open();
                CaptureStore.Execute(scratch, null, RunLog.CreateTableSql);
                var preview = RunLog.Restore(scratch, backup, path, nodeId, whatIf: true, noRunActive);
                if (request.WhatIf || preview.Restored.Count == 0)
                {
                    return preview;
                }

                using var transaction = sqlite.BeginTransaction(deferred: false);
                CaptureStore.Execute(sqlite, transaction, RunLog.CreateTableSql);
                transaction.Commit();
            }

            // Without --what-if we hold the run lock, so a run the backup shows as Running is not running.
            return RunLog.Restore(sqlite, backup, path, nodeId, request.WhatIf, noRunActive);
        }
        catch (SqliteException ex)
        {
            throw SourceDatabase.Translate(ex, path);
        }
    }

    internal static async Task<bool> NoRunActiveAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            using var probe = await RunLock.AcquireAsync(path, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DbSyncException ex) when (ex.ErrorId == ErrorIds.LockTimeout)
        {
            return false;
        }
        catch (DbSyncException ex) when (ex.ErrorId is ErrorIds.SourceReadOnly or ErrorIds.SourceError)
        {
            // A folder that cannot hold the lock file (read-only, or the name too long for it) cannot host a run either.
            return true;
        }
    }

    /// <summary>
    /// Continuous mode: syncs whenever a commit adds changes (and at least every interval), retrying failures with
    /// backoff, until <paramref name="cancellationToken"/> is cancelled. Every run, or failure, is reported.
    /// </summary>
    public Task WatchAsync(SyncRequest request, Watching.WatchOptions options, IProgress<Watching.WatchRun> runs,
        IProgress<SyncProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Watching.SyncWatcher.WatchAsync(this, request, options, runs, progress, cancellationToken);

    /// <summary>Conflict records from <c>dbsync.conflicts</c> in PostgreSQL, newest first. Changes nothing.</summary>
    public Task<IReadOnlyList<ConflictRecord>> GetConflictsAsync(ConflictQuery query, CancellationToken cancellationToken = default) =>
        Conflicts.ConflictStore.QueryAsync(query ?? throw new ArgumentNullException(nameof(query)), cancellationToken);

    /// <summary>Rows held back in the SQLite file (poison rows and conflicts left by the Fail policy). Changes nothing.</summary>
    public Task<IReadOnlyList<QuarantinedRow>> GetQuarantineAsync(QuarantineQuery query, CancellationToken cancellationToken = default) =>
        Conflicts.HeldRows.QueryAsync(query ?? throw new ArgumentNullException(nameof(query)), cancellationToken);

    /// <summary>
    /// Tries the held rows again now: a sync of the tables that hold rows (within <see cref="SyncRequest.Tables"/>).
    /// Returns null when no row is held.
    /// </summary>
    public async Task<SyncResult?> RetryQuarantineAsync(SyncRequest request, IProgress<SyncProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var held = await GetQuarantineAsync(new QuarantineQuery { Path = request.Path, Tables = request.Tables, BusyTimeout = request.BusyTimeout }, cancellationToken).ConfigureAwait(false);
        // As a sync would, even with nothing to retry: a job without a target, or with a pattern no table matches,
        // succeeded while nothing was held and so looked healthy until a row was.
        TargetDatabase.ParseConnectionString(request.ConnectionString, request.Credential);
        if (request.Tables.Count > 0)
        {
            var path = SourceDatabase.Validate(request.Path);
            using var sqlite = SourceDatabase.OpenCancellable(path, request.BusyTimeout, cancellationToken);
            try
            {
                SyncPlanner.Select(SourceSchemaReader.ReadTables(sqlite), request.Tables);
            }
            catch (SqliteException ex)
            {
                throw SourceDatabase.Translate(ex, path, cancellationToken);
            }
        }

        if (held.Count == 0)
        {
            return null;
        }

        var tables = held.Select(h => h.Table).Distinct(Identifiers.SqliteNames).ToList();
        return await SyncAsync(request.ForTables(tables), progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives a copied file an identity of its own: a new node id, its held rows forgotten (they are retried from the
    /// pending changes anyway), and every table copied in full on the next run.
    /// </summary>
    public Task<ResetNodeResult> ResetNodeAsync(ResetNodeRequest request, CancellationToken cancellationToken = default) =>
        Conflicts.NodeIdentity.ResetAsync(request ?? throw new ArgumentNullException(nameof(request)), cancellationToken);

    /// <summary>The user tables of a SQLite file, for tab completion. Read-only; empty on any error.</summary>
    public static IReadOnlyList<string> ListTables(string path)
    {
        try
        {
            var full = SourceDatabase.Validate(path);
            using var sqlite = SourceDatabase.Open(full, busyTimeoutSeconds: 1);
            return SourceSchemaReader.ReadTables(sqlite).Select(t => t.Name).ToList();
        }
        catch (Exception ex) when (ex is DbSyncException or SqliteException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Installs capture on the selected tables without syncing.</summary>
    public async Task<CaptureResult> EnableAsync(EnableRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = SourceDatabase.Validate(request.Path);
        using var runLock = await RunLock.AcquireAsync(path, request.LockTimeout, cancellationToken).ConfigureAwait(false);
        using var sqlite = SourceDatabase.OpenCancellable(path, request.BusyTimeout, cancellationToken);
        try
        {
            var capture = InstallCapture(sqlite, request.Tables, [], null);
            return new CaptureResult { Path = path, NodeId = capture.NodeId, Tables = capture.Captured.Select(c => c.Table.Name).ToList(), Warnings = capture.Warnings };
        }
        catch (SqliteException ex)
        {
            throw SourceDatabase.Translate(ex, path, cancellationToken);
        }
    }

    /// <summary>
    /// What <see cref="EnableAsync"/> would do, reading the file only: the tables it would capture (those already
    /// captured included) and the warnings it would give. <see cref="CaptureResult.NodeId"/> is the file's node id, null
    /// when capture was never enabled. Backs Enable-DbSync -WhatIf.
    /// </summary>
    public Task<CaptureResult> PlanEnableAsync(EnableRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = SourceDatabase.Validate(request.Path);
        using var sqlite = SourceDatabase.OpenCancellable(path, request.BusyTimeout, cancellationToken);
        try
        {
            using var transaction = sqlite.BeginTransaction(deferred: true);
            // As enable does: a file a newer DbSync wrote is refused, so that the dry run does not report a success the
            // real one cannot have (contract exploration, F2).
            CaptureStore.CheckNotNewer(sqlite, transaction);
            var all = SourceSchemaReader.ReadTables(sqlite, transaction);
            var selected = SyncPlanner.Select(all, request.Tables);
            var registry = CaptureStore.IsEnabled(sqlite, transaction)
                ? CaptureStore.ReadRegistry(sqlite, transaction)
                : new Dictionary<string, RegisteredTable>(Identifiers.SqliteNames);
            var warnings = selected.Select(NotCapturable).OfType<string>().ToList();
            warnings.AddRange(DroppedTables(sqlite, transaction, all, registry, request.Tables));
            warnings.AddRange(ReservedNames(sqlite, transaction, request.Tables));
            return Task.FromResult(new CaptureResult
            {
                Path = path, NodeId = ReadNodeId(sqlite, transaction),
                Tables = selected.Where(t => NotCapturable(t) is null).Select(t => t.Name).ToList(), Warnings = warnings,
            });
        }
        catch (SqliteException ex)
        {
            throw SourceDatabase.Translate(ex, path, cancellationToken);
        }
    }

    /// <summary>Removes capture: triggers, change logs and the table registry. The user's tables are untouched.</summary>
    /// <exception cref="DbSyncException">PendingChanges when changes are pending and <see cref="DisableRequest.Force"/> is not set.</exception>
    public async Task<CaptureResult> DisableAsync(DisableRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = SourceDatabase.Validate(request.Path);
        using var runLock = await RunLock.AcquireAsync(path, request.LockTimeout, cancellationToken).ConfigureAwait(false);
        using var sqlite = SourceDatabase.OpenCancellable(path, request.BusyTimeout, cancellationToken);
        try
        {
            using var transaction = sqlite.BeginTransaction(deferred: false);
            CaptureStore.CheckNotNewer(sqlite, transaction);
            if (!CaptureStore.IsEnabled(sqlite, transaction))
            {
                var purgeNode = request.Purge ? null : ReadNodeId(sqlite, transaction);
                if (request.Purge)
                {
                    Purge(sqlite, transaction);
                }

                transaction.Commit();
                return new CaptureResult { Path = path, NodeId = purgeNode, Tables = [], Disabled = true };
            }

            var registry = CaptureStore.ReadRegistry(sqlite, transaction);
            var some = request.Tables.Count > 0;
            if (some)
            {
                // Of some tables: a captured table that vanished (an ORM's transient rebuild table captured mid-migration, a
                // renamed table's old name) warned on every run for ever, and only disabling the whole file cleared it
                // (capture exploration 2, F4).
                if (request.Purge)
                {
                    throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                        "--purge removes every table's capture and the file's node id; it cannot be combined with --table.");
                }

                var all = registry;
                registry = all.Values.Where(r => SyncPlanner.Matches(r.Name, request.Tables)).ToDictionary(r => r.Name, Identifiers.SqliteNames);
                if (registry.Count == 0)
                {
                    var names = all.Keys.Order(StringComparer.Ordinal).ToList();
                    throw new DbSyncException(ErrorIds.TableNotFound, DbSyncErrorCategory.ObjectNotFound,
                        $"--table {string.Join(", ", request.Tables.Select(t => $"'{Secrets.Redact(t)}'"))} matches no captured table. Captured: {(names.Count == 0 ? "none" : string.Join(", ", names))}. Nothing was changed.",
                        Secrets.Redact(request.Tables[0]));
                }
            }

            long pending = 0;
            var pendingTables = new List<string>();
            foreach (var entry in registry.Values)
            {
                var rows = CaptureStore.Scalar<long>(sqlite, transaction, $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{entry.LogTable}'") == 0
                    ? 0
                    : CaptureStore.PendingRows(sqlite, transaction, entry);
                if (rows > 0)
                {
                    pending += rows;
                    pendingTables.Add($"{entry.Name} ({rows})");
                }
            }

            if (pending > 0 && !request.Force)
            {
                throw new DbSyncException(ErrorIds.PendingChanges, DbSyncErrorCategory.InvalidOperation,
                    $"{pending} changed row(s) are not yet in PostgreSQL: {string.Join(", ", pendingTables)}. Sync first, or use --force to discard them.",
                    path);
            }

            var nodeId = ReadNodeId(sqlite, transaction);
            var dropHeld = some && CaptureStore.Scalar<long>(sqlite, transaction, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_dbsync_held'") > 0;
            foreach (var entry in registry.Values)
            {
                CaptureStore.Uninstall(sqlite, transaction, entry);
                if (dropHeld)
                {
                    CaptureStore.Execute(sqlite, transaction, $"DELETE FROM _dbsync_held WHERE table_id = {entry.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
                }
            }

            if (!some)
            {
                CaptureStore.Execute(sqlite, transaction, "DROP TABLE IF EXISTS _dbsync_tables");
            }

            if (request.Purge)
            {
                Purge(sqlite, transaction);
                nodeId = null;
            }

            transaction.Commit();
            return new CaptureResult { Path = path, NodeId = nodeId, Tables = registry.Values.Select(r => r.Name).OrderBy(n => n, StringComparer.Ordinal).ToList(), DiscardedChanges = pending, Disabled = true };
        }
        catch (SqliteException ex)
        {
            throw SourceDatabase.Translate(ex, path, cancellationToken);
        }
    }

    private static string? ReadNodeId(SqliteConnection sqlite, SqliteTransaction transaction) =>
        CaptureStore.Scalar<long>(sqlite, transaction, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_dbsync_meta'") == 0
            ? null
            : CaptureStore.ReadMeta(sqlite, transaction, "node_id");

    private static void Purge(SqliteConnection sqlite, SqliteTransaction transaction)
    {
        // Anything left with the prefix (a log whose registry row was lost, say) goes too.
        var leftovers = new List<(string Type, string Name)>();
        using (var command = CaptureStore.Command(sqlite, transaction,
            "SELECT type, name FROM sqlite_master WHERE name LIKE '\\_dbsync\\_%' ESCAPE '\\' AND type IN ('table', 'trigger')"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                leftovers.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        foreach (var (type, name) in leftovers.OrderBy(l => l.Type == "table"))
        {
            CaptureStore.Execute(sqlite, transaction, $"DROP {(type == "table" ? "TABLE" : "TRIGGER")} IF EXISTS {Identifiers.Quote(name)}");
        }
    }

    private static (string NodeId, List<(SourceTable Table, RegisteredTable Registry)> Captured, List<string> Warnings) InstallCapture(
        SqliteConnection sqlite, IReadOnlyList<string> patterns, IReadOnlyList<string> nodePartitioned, Action<SqliteTransaction, string>? alsoInTransaction)
    {
        using var transaction = sqlite.BeginTransaction(deferred: false);
        var all = SourceSchemaReader.ReadTables(sqlite, transaction);
        var selected = SyncPlanner.Select(all, patterns);
        // Before anything is written, as a --table miss (Select) is: the attempt is then recorded in the backup only.
        CheckNodePartitioned(nodePartitioned, selected.Where(t => NotCapturable(t) is null));
        var nodeId = CaptureStore.EnsureBookkeeping(sqlite, transaction);
        var registry = CaptureStore.ReadRegistry(sqlite, transaction);
        var captured = new List<(SourceTable, RegisteredTable)>();
        var warnings = new List<string>();
        // Read before Install removes a renamed table's old triggers from it, which say what it was renamed to.
        var dropped = DroppedTables(sqlite, transaction, all, registry, patterns).ToList();
        // Read before Install makes DbSync's triggers again behind a newer application trigger (FireBehind).
        var ignoring = IgnoringTriggers(sqlite, transaction, selected.Where(t => registry.ContainsKey(t.Name)).Select(t => t.Name)).ToList();
        foreach (var table in selected)
        {
            if (NotCapturable(table) is { } reason)
            {
                warnings.Add(reason);
                continue;
            }

            registry.TryGetValue(table.Name, out var existing);
            var (registered, warning) = CaptureStore.Install(sqlite, transaction, table, existing);
            if (warning is not null)
            {
                warnings.Add(warning);
            }

            captured.Add((table, registered));
        }

        warnings.AddRange(dropped);
        warnings.AddRange(ReservedNames(sqlite, transaction, patterns));
        warnings.AddRange(ignoring.Where(i => captured.Any(c => c.Item1.Name == i.Table)).Select(i => i.Warning));
        alsoInTransaction?.Invoke(transaction, nodeId);
        transaction.Commit();
        return (nodeId, captured, warnings);
    }

    /// <summary>
    /// Warnings for the application's AFTER triggers on captured tables that use <c>RAISE(IGNORE)</c> and were created
    /// after DbSync's capture triggers: SQLite fires the most recently created trigger first, and such a trigger's
    /// RAISE(IGNORE) keeps the row change and abandons the statement's remaining trigger programs, DbSync's among them, so
    /// the writes it cut short were never logged (crash exploration, finding 1). Install then makes DbSync's triggers
    /// again so that they fire first, so one run tells it; a trigger older than DbSync's never skips them and is not
    /// warned of (it was, on every run, for good). A BEFORE trigger's RAISE(IGNORE) skips the change itself, which then
    /// needs no capture. Read before Install, for the tables captured before this run.
    /// </summary>
    private static IEnumerable<(string Table, string Warning)> IgnoringTriggers(SqliteConnection sqlite, SqliteTransaction transaction, IEnumerable<string> tables)
    {
        var captured = tables.ToHashSet(Identifiers.SqliteNames);
        // tbl_name is the table's name as the CREATE TRIGGER spelled it; SQLite matches names case-insensitively (ASCII).
        var firstOwn = new Dictionary<string, long>(Identifiers.SqliteNames);
        using (var own = CaptureStore.Command(sqlite, transaction,
            @"SELECT tbl_name, rowid FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\_dbsync\_%' ESCAPE '\' ORDER BY rowid"))
        using (var reader = own.ExecuteReader())
        {
            while (reader.Read())
            {
                firstOwn.TryAdd(reader.GetString(0), reader.GetInt64(1));
            }
        }

        using var read = CaptureStore.Command(sqlite, transaction,
            @"SELECT name, tbl_name, sql, rowid FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL AND name NOT LIKE '\_dbsync\_%' ESCAPE '\' ORDER BY tbl_name, name");
        using var triggers = read.ExecuteReader();
        var found = new List<(string, string)>();
        while (triggers.Read())
        {
            var (name, table, sql) = (triggers.GetString(0), triggers.GetString(1), triggers.GetString(2));
            var body = System.Text.RegularExpressions.Regex.Match(sql, @"\bBEGIN\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
            var head = body.Success ? sql[..body.Index] : sql;
            if (captured.Contains(table)
                && firstOwn.TryGetValue(table, out var first) && triggers.GetInt64(3) > first
                && System.Text.RegularExpressions.Regex.IsMatch(head, @"\bAFTER\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase)
                && System.Text.RegularExpressions.Regex.IsMatch(sql, @"\bRAISE\s*\(\s*IGNORE\s*\)", System.Text.RegularExpressions.RegexOptions.IgnoreCase))
            {
                var own = captured.First(c => Identifiers.SqliteNames.Equals(c, table));
                found.Add((own, $"Table '{own}': the application's trigger '{name}' is an AFTER trigger that uses RAISE(IGNORE), created after DbSync's capture triggers, so it fired before them (SQLite fires the most recently created trigger first): a write it cut short stayed in the file but was never logged and never reached PostgreSQL. This run made DbSync's triggers again so that they fire first from now on; a --resync of the table repairs what was missed (see docs/capture.md, \"Not captured\"). Making it a BEFORE trigger, or ending it without RAISE(IGNORE), keeps it from happening again after a migration re-creates it."));
            }
        }

        return found;
    }

    /// <summary>Warnings for the application's tables named with DbSync's reserved prefix, which are never synced.</summary>
    private static IEnumerable<string> ReservedNames(SqliteConnection sqlite, SqliteTransaction transaction, IReadOnlyList<string> patterns) =>
        SourceSchemaReader.ReadReservedNames(sqlite, transaction).Where(n => SyncPlanner.Selects(n, patterns))
            .Select(n => $"Table '{n}' is not synced: names beginning with _dbsync_ are reserved for DbSync's own tables in the file. Rename it to sync it.");

    /// <summary>Why a selected table cannot be captured, or null when it can.</summary>
    private static string? NotCapturable(SourceTable table) => table.UnsyncableReason is { } reason
        ? $"Table '{table.Name}' {reason} and is not synced.{(table.HasKey || table.IsVirtual ? "" : " Give it a primary key to sync it.")}"
        : null;

    /// <summary>Warnings for captured tables dropped from SQLite: their triggers went with them, their change logs and PostgreSQL tables stay.</summary>
    private static IEnumerable<string> DroppedTables(SqliteConnection sqlite, SqliteTransaction transaction, IReadOnlyList<SourceTable> all,
        IReadOnlyDictionary<string, RegisteredTable> registry, IReadOnlyList<string> patterns)
    {
        foreach (var gone in registry.Values.Where(r => !all.Any(t => Identifiers.SqliteNames.Equals(t.Name, r.Name)) && SyncPlanner.Selects(r.Name, patterns))
            .OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            var pending = CaptureStore.CountLogEntries(sqlite, transaction, [gone]);
            // SQLite moves a table's triggers with it when it is renamed: the table that has them is the new name.
            var renamedTo = CaptureStore.TablesWithTriggers(sqlite, transaction, gone.TriggerNames).FirstOrDefault();
            yield return $"Table '{gone.Name}' was captured but no longer exists in SQLite{(renamedTo is null ? "" : $" (it was renamed to '{renamedTo}')")}: it is not synced{(pending > 0 ? $", and its {pending} pending change(s) stay unsent" : "")}; its PostgreSQL table, if any, is left as it is. "
                + $"'dbsync disable --table \"{gone.Name}\"{(pending > 0 ? " --force" : "")}' removes its capture{(pending > 0 ? " and discards those changes" : "")}, and this warning with it.";
        }
    }
}
