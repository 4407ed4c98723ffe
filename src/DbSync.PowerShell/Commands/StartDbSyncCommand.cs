using System.Globalization;
using System.Management.Automation;
using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Pushes the pending changes of SQLite files to PostgreSQL, enabling capture on first use.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "DbSync", DefaultParameterSetName = PathResolver.PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SyncResult))]
public sealed class StartDbSyncCommand : DbSyncSyncCommand
{
    private int? _keepDays;

    #region Parameters

    /// <summary>Copy the selected tables again in full, making each target table equal to the SQLite table.</summary>
    [Parameter]
    public SwitchParameter Resync { get; set; }

    /// <summary>After a successful run, remove run log entries older than this many days from the database, once PostgreSQL has them (dbsync.runs).</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int KeepDays
    {
        get => _keepDays ?? 0;
        set => _keepDays = value;
    }

    /// <summary>With -KeepDays, remove those entries from the backup file too (but not the lines of runs the database still holds unsent).</summary>
    [Parameter]
    public SwitchParameter PruneBackup { get; set; }

    /// <summary>Keep running: sync on every commit to the file and at least every -Interval seconds, until Ctrl+C.</summary>
    [Parameter]
    public SwitchParameter Continuous { get; set; }

    /// <summary>With -Continuous, the most seconds between runs; it also caps the wait before retrying a failed run.</summary>
    [Parameter]
    [ValidateRange(1, 86_400)]
    public int Interval { get; set; } = 30;

    #endregion

    /// <summary>The files this command synced (or tried to), so that each is synced once whatever is piped in.</summary>
    private readonly HashSet<string> _synced = new(StringComparer.Ordinal);

    /// <summary>With -Continuous, the distinct files given, in the order they came.</summary>
    private readonly List<string> _toWatch = [];

    #region Overrides

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (PruneBackup.IsPresent && _keepDays is null)
        {
            ThrowTerminatingError(Errors.Usage("-PruneBackup needs -KeepDays.", null));
        }

        if (!Continuous.IsPresent && GivenByCaller(nameof(Interval)))
        {
            // As the CLI's --interval without --watch: a job meant to keep watching would end after one run. An
            // -Interval from $PSDefaultParameterValues is no such mistake (it applies to every Start-DbSync).
            ThrowTerminatingError(Errors.Usage("-Interval goes with -Continuous.", null));
        }

        if (Continuous.IsPresent && ContinuousErrorActionRefusal(EffectiveErrorAction(), GivenByCaller("ErrorAction")) is { } stop)
        {
            ThrowTerminatingError(Errors.Usage(stop, null));
        }

        CheckConflictOptions();
    }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var files = ResolveFiles();

        if (Continuous.IsPresent)
        {
            // The watch starts once every piped object is in (EndProcessing): started with the first, it would never
            // return to take the next, and a second file would go unwatched without a word.
            CollectForWatch(files);
            return;
        }

        foreach (var file in files)
        {
            // Objects piped in name their file: a status and its tables, or several log entries, name the same one.
            if (!_synced.Add(file))
            {
                WriteVerbose($"'{file}' was synced already by this command; not again.");
                continue;
            }

            SyncOne(file);
        }
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        if (Continuous.IsPresent)
        {
            if (WatchRefusal() is { } refusal)
            {
                throw Terminating(Errors.Usage(refusal, null));
            }

            if (_toWatch.Count == 1)
            {
                SyncOne(_toWatch[0]);
            }
        }

        base.EndProcessing();
    }

    #endregion

    /// <summary>With -Continuous, takes the files of one piped object (or of -Path) for the watch, each once.</summary>
    internal void CollectForWatch(IEnumerable<string> files)
    {
        foreach (var file in files)
        {
            if (_synced.Add(file))
            {
                _toWatch.Add(file);
            }
        }
    }

    /// <summary>
    /// Why -Continuous cannot start, or null: it watches one file, and the message counts and names every file given,
    /// once all are in. Refused at the second file, it said "2 were given" of three, and the pipeline stopped there.
    /// </summary>
    internal string? WatchRefusal()
    {
        if (_toWatch.Count <= 1)
        {
            return null;
        }

        const int Shown = 10;
        var names = string.Join(", ", _toWatch.Take(Shown).Select(f => $"'{f}'")) + (_toWatch.Count > Shown ? ", ..." : "");
        return string.Create(CultureInfo.InvariantCulture,
            $"-Continuous watches one file, and {_toWatch.Count} were given ({names}); none is watched or synced. Start one Start-DbSync -Continuous per file (for example as separate jobs).");
    }

    /// <summary>
    /// Why -Continuous cannot start under the error action it would run with, or null. A watch retries every failed run
    /// and every row a run held back; under Stop the first such error is terminating and ends it, so a service started
    /// with the script-wide $ErrorActionPreference = 'Stop' that about_DbSync recommends for jobs (or a default
    /// -ErrorAction from $PSDefaultParameterValues) became a one-shot at the first restart of PostgreSQL or the first
    /// held row, and a service manager restarted it into the same failure. No error record can be written past Stop, so
    /// the caller chooses on the command itself: -ErrorAction Continue keeps watching, -ErrorAction Stop typed on
    /// Start-DbSync ends at the first failure as asked.
    /// </summary>
    /// <param name="effective">The error action the cmdlet's errors would get.</param>
    /// <param name="typed">Whether -ErrorAction was given on the command (not by $PSDefaultParameterValues).</param>
    internal static string? ContinuousErrorActionRefusal(ActionPreference? effective, bool typed) =>
        effective == ActionPreference.Stop && !typed
            ? "-Continuous retries failed runs and the rows a run held back, but under $ErrorActionPreference 'Stop' (or an -ErrorAction Stop from $PSDefaultParameterValues) the first such error would end the watch. Give Start-DbSync -ErrorAction Continue to keep watching (each failure is still written as an error and retried), or -ErrorAction Stop to end the watch at the first one."
            : null;

    /// <summary>The error action this invocation's errors get: -ErrorAction when bound, else $ErrorActionPreference.</summary>
    private ActionPreference? EffectiveErrorAction()
    {
        var value = MyInvocation.BoundParameters.TryGetValue("ErrorAction", out var bound) ? bound : GetVariableValue("ErrorActionPreference");
        return LanguagePrimitives.TryConvertTo<ActionPreference>(value, CultureInfo.InvariantCulture, out var action) ? action : null;
    }

    /// <summary>The Core request for one file: exactly the parameters, nothing decided here.</summary>
    /// <param name="path">The resolved SQLite file.</param>
    /// <param name="logPath">-LogPath resolved against PowerShell's location.</param>
    internal SyncRequest BuildRequest(string path, string? logPath) =>
        BuildSyncRequest(path, logPath, Resync.IsPresent, _keepDays, PruneBackup.IsPresent);

    private void SyncOne(string path)
    {
        var request = BuildRequest(path, ResolvedLogPath);
        var engine = new SyncEngine();
        try
        {
            var action = Continuous.IsPresent
                ? $"Watch '{path}' and sync each commit to PostgreSQL schema '{Schema}' until stopped"
                : $"Sync '{path}' to PostgreSQL schema '{Schema}'";
            if (!ShouldProcess($"{action}.", $"{action}?", "Start-DbSync", out var reason))
            {
                if (reason == ShouldProcessReason.WhatIf)
                {
                    WritePlan(Runner.Run(token => engine.PlanAsync(request, token)));
                }

                return;
            }

            if (Continuous.IsPresent)
            {
                Watch(engine, request, path);
                return;
            }

            WriteVerbose($"Syncing '{path}' to schema '{Schema}'.");
            var result = RunWithProgress(engine, request, path);
            WriteRun(result, path);

            WriteVerbose(string.Create(CultureInfo.InvariantCulture,
                $"{result.Status}: {result.Inserted} inserted, {result.Updated} updated, {result.Deleted} deleted in {result.Duration.TotalSeconds:0.00} s (run {result.RunId}) on {result.Target}."));
        }
        catch (DbSyncException ex) when (!Errors.EndsTheCommand(ex))
        {
            // About this file: the next piped file is still synced, unless -ErrorAction Stop.
            WriteError(Errors.From(ex, path));
        }
        catch (DbSyncException ex)
        {
            ThrowTerminatingError(Errors.From(ex, path));
        }
        catch (OperationCanceledException)
        {
            ThrowTerminatingError(Errors.Cancelled(path));
        }
    }

    /// <summary>
    /// Continuous mode: a result object per run, a non-terminating error per failed run (it is retried), until Ctrl+C;
    /// each run's progress as Start-DbSync's, completed when the run ends.
    /// </summary>
    private void Watch(SyncEngine engine, SyncRequest request, string path)
    {
        WriteVerbose($"Watching '{path}': syncing on every commit and at least every {Interval} s. Ctrl+C stops.");
        var options = new DbSync.Core.Watching.WatchOptions { Interval = TimeSpan.FromSeconds(Interval) };
        var activity = $"Start-DbSync -Continuous {System.IO.Path.GetFileName(path)}";
        var status = "Watching";
        Runner.Run<bool, object>(async (reports, token) =>
        {
            await engine.WatchAsync(request, options, new Forward<DbSync.Core.Watching.WatchRun>(reports), new Forward<SyncProgress>(reports), token)
                .ConfigureAwait(false);
            return true;
        }, report =>
        {
            switch (report)
            {
                case SyncProgress progress:
                    status = Describe(progress);
                    WriteProgress(new ProgressRecord(1, activity, status) { PercentComplete = progress.PercentComplete });
                    break;
                case DbSync.Core.Watching.WatchRun run:
                    WriteProgress(new ProgressRecord(1, activity, status) { RecordType = ProgressRecordType.Completed });
                    if (run.Result is { } result)
                    {
                        WriteRun(result, path);
                    }
                    else if (run.Error is { } error)
                    {
                        WriteError(Errors.From(error, path));
                        WriteVerbose(string.Create(CultureInfo.InvariantCulture, $"Retrying in {run.RetryIn?.TotalSeconds:0.#} s."));
                    }

                    break;
            }
        });
    }

    /// <summary>A progress report's status line.</summary>
    private static string Describe(SyncProgress report) => report.Table.Length == 0
        ? report.Phase.ToString()
        : string.Create(CultureInfo.CurrentCulture,
            $"Table {report.TableIndex}/{report.TableCount} {report.Table}: {report.Phase}, {report.Rows:N0} rows ({report.RowsPerSecond:N0} rows/s)");

    /// <summary>Passes one kind of report on to a progress that takes several (the runner's one queue).</summary>
    private sealed class Forward<T>(IProgress<object> reports) : IProgress<T>
    {
        public void Report(T value) => reports.Report(value!);
    }

    private SyncResult RunWithProgress(SyncEngine engine, SyncRequest request, string path)
    {
        // A new record each time: a host that keeps them (a job's Progress stream, [powershell]'s Streams.Progress)
        // would otherwise hold one object showing only the last state.
        var activity = $"Start-DbSync {System.IO.Path.GetFileName(path)}";
        var status = "Preparing";
        try
        {
            return Runner.Run<SyncResult, SyncProgress>((progress, token) => engine.SyncAsync(request, progress, token), report =>
            {
                status = Describe(report);
                WriteProgress(new ProgressRecord(1, activity, status) { PercentComplete = report.PercentComplete });
            });
        }
        finally
        {
            try
            {
                WriteProgress(new ProgressRecord(1, activity, status) { RecordType = ProgressRecordType.Completed });
            }
            catch (PipelineStoppedException)
            {
                // Stopping: the host clears the progress display itself.
            }
        }
    }

    private void WritePlan(SyncPlan plan)
    {
        foreach (var table in plan.Tables.OrderBy(t => t.Order))
        {
            var action = table.Reason is not null
                ? $"skip: {table.Reason}"
                : string.Create(CultureInfo.InvariantCulture,
                    $"{table.Mode}{(table.CreateTarget ? " (create target)" : "")}, {(table.Mode == "Push" ? $"{table.PendingInserts} insert(s), {table.PendingUpdates} update(s), {table.PendingDeletes} delete(s)" : $"{table.Rows} row(s) to copy")}");
            var target = table.Target.Length == 0 ? "(not synced)" : table.Target;
            ShouldProcess(string.Create(CultureInfo.InvariantCulture, $"{table.Order}. {table.Name} -> {target}: {action}"), "", "Start-DbSync");
        }

        foreach (var warning in plan.Warnings)
        {
            WriteCoreWarning(warning);
        }
    }
}
