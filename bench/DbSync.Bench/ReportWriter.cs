using System.Globalization;
using System.Text;

namespace DbSync.Bench;

/// <summary>Writes the results: a table on standard output, and the Markdown report with its SVG chart.</summary>
internal static class ReportWriter
{
    private static readonly CultureInfo _invariant = CultureInfo.InvariantCulture;

    public static void WriteConsole(BenchReport report, TextWriter output)
    {
        output.WriteLine($"");
        output.WriteLine($"DbSync benchmarks of {report.Engine}, {ScaleText(report.Options)}, {report.Load.Size.Total.ToString("N0", _invariant)} rows loaded");
        output.WriteLine($"{"Scenario",-34} {"Rows",12} {"Time (s)",10} {"Rows/s",12}");
        foreach (var bar in report.Bars)
        {
            output.WriteLine(bar.Outcome.Value is { } m
                ? string.Create(_invariant, $"{bar.Label,-34} {m.Rows,12:N0} {m.Elapsed.TotalSeconds,10:0.00} {m.RowsPerSecond,12:N0}")
                : $"{bar.Label,-34} {bar.Outcome.Failure}");
        }

        if (report.Load.SmallMemory is { } small && report.Load.FullMemory is { } full)
        {
            output.WriteLine(string.Create(_invariant,
                $"Peak memory of a DbSync load: {small.PeakMegabytes:0} MB at {small.Rows:N0} rows, {full.PeakMegabytes:0} MB at {full.Rows:N0} rows"));
        }

        output.WriteLine($"");
        output.WriteLine($"{"Target",-38} {"Goal",-40} {"Measured",-28} Verdict");
        foreach (var target in report.Targets)
        {
            output.WriteLine($"{target.Name,-38} {target.Goal,-40} {target.Measured,-28} {target.Verdict.Replace("*", "", StringComparison.Ordinal)}");
        }

        foreach (var failure in report.Failures)
        {
            output.WriteLine($"FAILED: {failure}");
        }
    }

    /// <summary>Writes the report to <paramref name="markdownPath"/> and the chart beside it (same name, .svg).</summary>
    public static void WriteMarkdown(BenchReport report, string markdownPath)
    {
        var svgPath = Path.ChangeExtension(markdownPath, ".svg");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(markdownPath))!);
        File.WriteAllText(svgPath, ChartWriter.Render(report.Bars.ToList(),
            $"{ScaleText(report.Options)}; {report.Machine.Cpu}, {report.Machine.Cores} cores; {report.StartedAt:yyyy-MM-dd}"));
        File.WriteAllText(markdownPath, Markdown(report, Path.GetFileName(svgPath)));
    }

    private static string Markdown(BenchReport report, string svgName)
    {
        var md = new StringBuilder();
        void Line(FormattableString text) => md.Append(FormattableString.Invariant(text)).Append('\n');
        var load = report.Load;
        var push = report.Push;
        var capture = report.Capture;
        var machine = report.Machine;

        Line($"# DbSync benchmarks");
        Line($"");
        Line($"Measured on {report.StartedAt:yyyy-MM-dd HH:mm} UTC with `{report.Options.Command}` ({ScaleText(report.Options)}; the run took {report.Duration.TotalMinutes:0.0} min).");
        Line($"Every value is generated from a fixed seed, so the same command measures the same data. The figures are wall times of one run on a shared machine: expect some percent of noise.");
        if (report.Options.Scale < 1)
        {
            Line($"");
            Line($"This run used reduced sizes: fixed costs (connections, DDL, process start-up) weigh more than at full size, so the verdicts below are indicative only. The targets are meant for the full-size run (no --quick, no --scale).");
        }

        Line($"");
        Line($"![Throughput by scenario, rows/s]({svgName})");
        Line($"");
        Line($"## Machine");
        Line($"");
        Line($"| | |");
        Line($"| --- | --- |");
        Line($"| DbSync | {report.Engine} |");
        Line($"| CPU | {machine.Cpu}, {machine.Cores} cores |");
        Line($"| Memory | {machine.Memory} |");
        Line($"| Page faults | first write to a newly allocated 4 KiB page {machine.FreshPageMicroseconds:0.0} µs; first read of a page of shared memory already written, through a new mapping (as a new PostgreSQL backend reads the shared buffers) {machine.MappedPageMicroseconds:0.0} µs{(machine.Virtual ? " (a virtual machine: the CPU reports a hypervisor)" : "")} |");
        Line($"| OS | {machine.OperatingSystem} |");
        Line($"| .NET | {machine.Runtime} |");
        Line($"| SQLite | {machine.SqliteVersion} (SQLitePCLRaw e_sqlite3 bundle) |");
        Line($"| PostgreSQL | {report.PostgresVersion}; {report.PostgresOrigin}; same machine, TCP loopback |");
        Line($"");

        Line($"## Targets");
        Line($"");
        Line($"| Target | Goal | Measured | Verdict |");
        Line($"| --- | --- | --- | --- |");
        foreach (var target in report.Targets)
        {
            Line($"| {target.Name} | {target.Goal} | {target.Measured} | {target.Verdict} |");
        }

        foreach (var failure in report.Failures)
        {
            Line($"");
            Line($"**FAILED:** {failure}");
        }

        Line($"");
        Line($"## 1. Initial load");
        Line($"");
        Line($"A generated infrastructure inventory: `hosts` {load.Size.Hosts:N0} rows, `domains` {load.Size.Domains:N0}, `certificates` {load.Size.Certificates:N0} (foreign keys to both; text, integers, reals, ISO-8601 text in DATETIME columns, 64-byte blobs); {load.Size.Total:N0} rows, a {load.FileBytes / 1e6:0} MB file, generated in {load.GenerationTime.TotalSeconds:0.0} s.");
        Line($"");
        Line($"| Loader | Rows | Wall time | Rows/s | Against the target |");
        Line($"| --- | ---: | ---: | ---: | --- |");
        Line($"| **DbSync** initial load (`SyncEngine.SyncAsync` into a new schema) | {Figures(load.DbSync)} | |");
        Line($"| pgloader {load.PgloaderVersion} (same file, into a database of its own) | {Figures(load.Pgloader)} | {Versus(load.PgloaderFactor, f => $"DbSync is {f:0.0}× faster", "goal: ≥5× faster", f => f >= InitialLoadResult.PgloaderFactorGoal)} |");
        Line($"| PostgreSQL binary `COPY FROM` of the same rows, then the same keys | {Figures(load.RawCopy)} | {Versus(load.RawCopyFactor, f => $"DbSync takes {f:0.00}× its time", "goal: within 2×", f => f <= InitialLoadResult.RawCopyFactorGoal)} |");
        Line($"");
        Line($"DbSync's load and the raw COPY are the medians of {load.DbSyncSamples.Count} and {load.RawCopySamples.Count} timed runs; pgloader ran once (its time includes its own start-up; DbSync's first sample includes the .NET JIT warming up in this process, the others do not). All samples (s): DbSync {Samples(load.DbSyncSamples)}; raw COPY {Samples(load.RawCopySamples)}.");
        Line($"");
        Line($"Peak memory of a DbSync initial load, measured in a process of its own (`DbSync.Bench --child-load`: one `SyncAsync`, then its peak resident set, VmHWM from /proc/self/status):");
        Line($"");
        Line($"| Database | Rows | Peak RSS | Load time |");
        Line($"| --- | ---: | ---: | ---: |");
        foreach (var (name, probe) in new[] { ("small", load.SmallMemory), ("full", load.FullMemory) })
        {
            if (probe is null)
            {
                Line($"| {name} | — | not measured: {load.MemoryFailure} | — |");
            }
            else
            {
                Line($"| {name} | {probe.Rows:N0} | {probe.PeakMegabytes:0} MB | {probe.Elapsed.TotalSeconds:0.0} s |");
            }
        }

        Line($"");
        Line($"Goal: at most {InitialLoadResult.MemoryGoalMegabytes:0} MB: {Verdict(TargetCheck.Judge(load.PeakMegabytes, m => m <= InitialLoadResult.MemoryGoalMegabytes))}. Flat, the full-size peak at most {InitialLoadResult.FlatMemoryFactor}× the small one: {Verdict(TargetCheck.Judge(load.MemoryGrowth, g => g <= InitialLoadResult.FlatMemoryFactor))}{(load.MemoryGrowth is { } growth ? $" ({growth:0.00}×)" : "")}.");
        Line($"");
        Line($"How it is measured: DbSync and pgloader read the same freshly generated file, warm in the page cache. pgloader runs as `pgloader sqlite://FILE pgsql://…` with its defaults (it also creates indexes and foreign keys) and a time limit; its wall time includes its start-up, and its row count is checked. For the raw limit, DbSync's tables are first exported with `COPY (SELECT …) TO STDOUT (FORMAT BINARY)`; the timed part then creates equivalent tables, runs `COPY … FROM STDIN (FORMAT BINARY)` of those files and adds the primary and foreign keys as DbSync does (after the data, foreign keys DEFERRABLE), all in one transaction, one connection. Before each timed part (here and in scenario 2) the benchmark vacuums and analyzes the tables the previous part loaded, waits for autovacuum workers and forces a checkpoint, so that no part pays for another's background work.");
        Line($"");
        Line($"Where the load's time goes (measured apart from this run, full size on a quiet machine, with PostgreSQL's statement log and `perf`, about 5.4 s in all): the three COPYs about 3.0 s, in which DbSync's side (stepping through SQLite, checking and converting every value, encoding the binary COPY format) is the bottleneck while PostgreSQL's backend is busy about two thirds of the time; the primary keys 0.4 s; the two foreign-key validations 1.0 to 1.2 s (each a scan of the 1,000,000-row `certificates` table; the raw COPY pays them too); start-up, capture install and bookkeeping the rest. DbSync writes the binary COPY format itself (`CopyWriter`) and reads SQLite's values through direct calls into e_sqlite3 on a read-only connection without SQLite's per-connection mutex (`SnapshotReader`); through Npgsql's importer and SQLitePCLRaw's wrappers the same load took 8.5 to 10 s.");
        Line($"");

        Line($"## 2. Incremental push");
        Line($"");
        Line($"{push.Changes:N0} pending changes on the loaded database, each on a different row: {push.Updates:N0} updates (all three tables), {push.Inserts:N0} inserts (all three tables), {push.Deletes:N0} deletes (certificates). Making them in SQLite, capture triggers recording, took {push.ApplyTime.TotalSeconds:0.0} s (not part of the figures).");
        Line($"");
        Line($"| Method | Changes | Wall time | Rows/s | Against the target |");
        Line($"| --- | ---: | ---: | ---: | --- |");
        Line($"| **DbSync** push (one `SyncAsync`) | {Figures(push.DbSync)} | {Versus(push.DbSync.Value?.RowsPerSecond, r => $"{r:N0} rows/s", "goal: ≥80,000 rows/s", r => r >= PushResult.RateGoal)} |");
        Line($"| Row at a time: read the row from SQLite, one `INSERT … ON CONFLICT DO UPDATE` or `DELETE` per round trip, prepared, one transaction | {Figures(push.RowAtATime)} | {Versus(push.BaselineFactor, f => $"DbSync is {f:0.0}× faster", "goal: ≥10× faster", f => f >= PushResult.BaselineFactorGoal)} |");
        Line($"| PostgreSQL's floor, a reference: the same row changes from memory (read from SQLite beforehand), binary COPY into temporary tables, one `UPDATE … FROM`, `INSERT … SELECT` and `DELETE … USING` per table, no checks (triggers off), one transaction | {Figures(push.Floor)} | {(push.Floor.Value is { } floor && push.DbSync.Value is { } dbsync ? string.Create(_invariant, $"DbSync takes {dbsync.Elapsed / floor.Elapsed:0.00}× its time") : "—")} |");
        Line($"");
        var samples = string.Join("; ", push.Samples.Select(x => string.Create(_invariant, $"{x.DbSync.TotalSeconds:0.00} / {x.RowAtATime.TotalSeconds:0.00} s")));
        if (push.SingleRunReason is { } single)
        {
            Line($"Measured once, in place ({single}).");
        }
        else
        {
            Line($"Each of {push.Samples.Count} repetitions pushes into a fresh copy of the database (`CREATE DATABASE … TEMPLATE`, which keeps every row's `xmin`, so the rows stay this node's) and of the file, then runs the baseline there; the figures are the medians, the ratio the median of the per-repetition ratios. Samples, DbSync / row at a time: {samples}.");
        }

        Line($"");
        Line($"Check: after both, DbSync's tables and the row-at-a-time copy compare {push.Verification}, and the floor's {push.FloorVerification} (full join on the key, whole rows compared).");
        if (push.Floor.Value is { } floorRun)
        {
            Line($"");
            Line($"The floor runs third in each repetition, on its own copy of the tables in the same fresh database, from a new connection as DbSync's push opens one; it is the median of {push.FloorSamples.Count} (samples: {string.Join(" / ", push.FloorSamples.Select(f => f.TotalSeconds.ToString("0.00", _invariant)))} s). It is what PostgreSQL itself needs to apply these changes here, with nothing DbSync adds: no reading of SQLite, no conflict detection, no foreign-key checks, no bookkeeping. {floorRun.RowsPerSecond:N0} rows/s: {(floorRun.RowsPerSecond < PushResult.RateGoal ? "below the 80,000 rows/s goal, which no client applying these changes in one transaction can then reach on this machine" : "above the 80,000 rows/s goal")}{(push.RowAtATime.Value is { } rowwise ? string.Create(_invariant, $", and {rowwise.Elapsed / floorRun.Elapsed:0.0}× faster than the row-at-a-time baseline{(rowwise.Elapsed / floorRun.Elapsed < PushResult.BaselineFactorGoal ? ", short of the 10× goal itself" : "")}") : "")}.");
        }
        Line($"");
        if (push.Phases.Count > 1)
        {
            Line($"Where DbSync's push spent its time in this run (from its progress reports):");
            Line($"");
            Line($"| Phase | What happens | Time |");
            Line($"| --- | --- | ---: |");
            for (var i = 0; i < push.Phases.Count - 1; i++)
            {
                var (phase, began) = push.Phases[i];
                var took = push.Phases[i + 1].Time - (i == 0 ? TimeSpan.Zero : began);
                Line($"| {phase} | {PhaseText(phase, push)} | {took.TotalSeconds:0.00} s |");
            }

            Line($"");
        }

        if (push.DbSync.Value is { } pushed)
        {
            var baselineCommit = push.BaselineCommit is { } b ? $" The row-at-a-time baseline leaves them to PostgreSQL, as a naive program does: its COMMIT took {b.TotalSeconds:0.00} s." : "";
            var checks = PhaseTime(push, "Checking") is { } checking
                ? $"DbSync checked the push's foreign keys itself (docs/capture.md, *Foreign keys in a push*): one statement per key after its last write, {checking.TotalSeconds:0.00} s, where PostgreSQL's triggers would have run {push.ForeignKeyChecks:N0} queries one at a time at the COMMIT (each new `certificates` row references a host and a domain, and this benchmark's updates give each certificate new `host_id` and `domain_id` values). The benchmark connects as the cluster's superuser; a role that may not change `session_replication_role` (see docs/capture.md for the grant) gets PostgreSQL's checks at the COMMIT instead.{baselineCommit}"
                : $"PostgreSQL checked the foreign keys at the COMMIT, {push.ForeignKeyChecks:N0} queries one at a time: the push did not check them itself (see docs/capture.md for when it does).{baselineCommit}";
            Line($"{checks} 80,000 rows/s would allow {pushed.Rows / PushResult.RateGoal:0.00} s for the whole push{(push.RowAtATime.Value is { } baseline ? $", and 10× the baseline {baseline.Elapsed.TotalSeconds / PushResult.BaselineFactorGoal:0.00} s" : "")}. What is left is mostly PostgreSQL's own work per row, whatever the statements: each update or delete reads its row's page into the shared buffers (the changes are spread over most of the pages of `certificates`) and locks the row, writes the new version and its index entry and logs both; the foreign-key checks lock each referenced parent row `FOR KEY SHARE` as PostgreSQL's own check would. The page faults under those reads are dear on this machine (see *Machine*): the shared buffers of a newly started server fault on their first use, one fault per 4 KiB, and a new backend faults again on each buffer page it touches for the first time. Staging reads every changed row from SQLite by its key and sends it by binary COPY.");
            Line($"");
            Line($"Measured apart from this run (full size, the same changes, on a copy of the database, with `EXPLAIN (ANALYZE, BUFFERS)`, `strace -c` and the statement log): the push's UPDATE of a batch of 8,356 `certificates` rows took 331 ms when its 5,203 pages had to be read into the shared buffers, and 107 ms when it ran again on the same pages. Each such read cost PostgreSQL's backend about 40 µs, nearly all of it in the `pread` that copies the page into a shared buffer: the first touch of each page of that memory by a process faults, even when another process wrote it before (a forked process reading a file into such memory took 30 µs per 8 KiB the first time, 4.7 µs the next). With transparent huge pages for shared memory (`/sys/kernel/mm/transparent_hugepage/shmem_enabled` set to `always`, an operating-system setting this program leaves alone) the Applying phase took 1.3 to 1.6 s instead of 2.1 to 2.6 s. Tried the same way and dropped, as slower or no faster: updating and classifying in one statement through `ctid`, a BRIN index on the staging table, fill factor 90 on the tables DbSync creates, deleting each batch's rows while classifying it, a larger `temp_buffers` (the COPY into the staging table got slower), reading the next batch's target rows into the shared buffers from a second connection while the first applies (Applying 2.3 to 2.5 s instead of 2.1 to 2.2 s). Tried on 2026-12-02 (scenario 2 alone, without pgloader, plans from `auto_explain`): the floor's UPDATE of `certificates` is a hash join over one sequential scan of the table, about 19 µs a row, where DbSync's UPDATE of a batch probes the primary key row by row, about 41 µs a row; a sequential scan reads through a small ring of buffers and so pays few of the page faults described above. Giving DbSync's UPDATE that plan (one statement per table instead of one per 10,000 rows, nested loops off for it) made Applying slower, 3.6 to 4.7 s: with no statistics on the staging table, PostgreSQL checked the writer of every target row before joining the staged rows, and carried whole rows into a hash join that spilled to disk. Turning nested loops off for the whole push was slower still (Applying 5.2 to 7.4 s). A server whose shared memory had been touched once beforehand (`pg_prewarm` of a scratch table larger than the shared buffers, as a server long in service would have) pushed no faster. In those runs without pgloader the floor took 1.8 to 2.1 s and DbSync's push 3.5 to 4.1 s, so 1.7 to 2.1 times the floor: the floor's time varies more between runs than DbSync's, and its ratio in a single run is no stable measure.");
        }
        Line($"");

        Line($"## 3. Capture overhead");
        Line($"");
        Line($"The application's side of capture: {capture.Rows:N0} inserts, then {capture.Rows:N0} updates of every row, in transactions of {capture.BatchSize:N0} rows with one prepared statement, into the `hosts` table without capture and into an identical file with capture enabled (`SyncEngine.EnableAsync`). Both use SQLite's defaults: journal_mode={capture.JournalMode} (rollback journal), synchronous={capture.Synchronous}. {capture.Repetitions} repetitions, interleaved (each writes both files back to back, alternating which goes first); the times shown are medians, the ratio is the median of the per-repetition ratios, so that a slow moment of the disk (synchronous=FULL flushes every commit) falls on both sides of one ratio.");
        Line($"");
        Line($"| Operation | Without capture | With capture | Ratio | Against the target |");
        Line($"| --- | ---: | ---: | ---: | --- |");
        Line($"| {capture.Rows:N0} inserts | {Median(capture, capture.PlainInserts)} | {Median(capture, capture.CapturedInserts)} | {Ratio(capture.InsertRatio)} | {Versus(capture.InsertRatio, r => $"{r:0.00}×", "goal: ≤1.5×", r => r <= CaptureOverheadResult.InsertGoal)} |");
        Line($"| {capture.Rows:N0} updates | {Median(capture, capture.PlainUpdates)} | {Median(capture, capture.CapturedUpdates)} | {Ratio(capture.UpdateRatio)} | {Versus(capture.UpdateRatio, r => $"{r:0.00}×", "goal: ≤2×", r => r <= CaptureOverheadResult.UpdateGoal)} |");
        Line($"| {capture.Rows:N0} inserts, unique index on `hostname` | {Median(capture, capture.UniquePlainInserts)} | {Median(capture, capture.UniqueCapturedInserts)} | {Ratio(capture.UniqueInsertRatio)} | not a target |");
        Line($"| {capture.Rows:N0} updates, unique index on `hostname` | {Median(capture, capture.UniquePlainUpdates)} | {Median(capture, capture.UniqueCapturedUpdates)} | {Ratio(capture.UniqueUpdateRatio)} | not a target |");
        Line($"");
        Line($"The last two rows write the same rows into files whose `hosts` table has a unique index on `hostname` (both files have it): capture then also installs the two triggers that log the rows `INSERT OR REPLACE` and `UPDATE OR REPLACE` would remove through it (docs/capture.md), one index probe before each insert and each update of `hostname`.");
        Line($"");
        Line($"All samples (s): inserts {Samples(capture.PlainInserts)} without, {Samples(capture.CapturedInserts)} with capture; updates {Samples(capture.PlainUpdates)} without, {Samples(capture.CapturedUpdates)} with capture; with the unique index, inserts {Samples(capture.UniquePlainInserts)} without, {Samples(capture.UniqueCapturedInserts)} with capture, updates {Samples(capture.UniquePlainUpdates)} without, {Samples(capture.UniqueCapturedUpdates)} with capture.");
        Line($"");

        var operations = report.Operations;
        Line($"## 4. Status with pending changes");
        Line($"");
        Line($"`SyncEngine.GetStatusAsync` (Get-DbSyncStatus, `dbsync status --detailed`), local part only, in process, on a file with {operations.PendingChanges:N0} pending changes (one table, synced once while empty, then one insert per row, integer keys logged in ascending order); the median of 5 runs after one warm-up. Samples (ms): {string.Join(" / ", operations.StatusSamples.Select(t => t.TotalMilliseconds.ToString("0", _invariant)))}.");
        Line($"");
        Line($"Not a target, the case the ascending log does not show: the same rows inserted in a scrambled key order (key = i × {OperationsResult.ScramblePrime} mod n + 1), so that every key reaches the log out of order: median {operations.ScrambledStatusMedianMs?.ToString("0", _invariant) ?? "—"} ms; samples (ms): {string.Join(" / ", operations.ScrambledStatusSamples.Select(t => t.TotalMilliseconds.ToString("0", _invariant)))}.");
        Line($"");
        Line($"Nearly all of the time is reading the whole change log to count distinct keys (the exact number of rows waiting, as the status issue asks). For a one-column integer key SQLite hands the keys over in chunks of 65,536 as one text each and DbSync counts them, as ranges while they ascend and in a hash set when they do not, the two halves of a long log at once on two connections reading the same snapshot; any other key falls back to SQLite's count(DISTINCT), several times slower. An index on the log's key columns would make it an index scan, but it would make every captured write slower, which the capture target forbids.");
        Line($"");
        Line($"## 5. Continuous sync latency");
        Line($"");
        Line($"`SyncEngine.WatchAsync` (`dbsync sync --watch`, `Start-DbSync -Continuous`) running in process on a one-table file; {operations.LatencySamples.Count} times: one program commits one row, and the time until a separate PostgreSQL connection sees it (polled every millisecond) is recorded. Median {operations.LatencyMedianMs?.ToString("0", _invariant) ?? "—"} ms, p99 {operations.LatencyP99Ms?.ToString("0", _invariant) ?? "—"} ms (goal: median ≤50 ms). Each commit is noticed through `PRAGMA data_version`, polled every 5 ms; the rest is one whole run (connect, capture check, snapshot, COPY, apply, commit, mark synced, run log).");
        Line($"");
        Line($"## 6. Restoring a run log backup");
        Line($"");
        Line($"`SyncEngine.RestoreLogAsync` (Restore-DbSyncLog, `dbsync restore-log`) of a generated backup of {operations.LogEntries:N0} entries into a file that has none of them: {Figures(operations.Restore).Replace(" | ", ", ", StringComparison.Ordinal)} (rows = entries restored).");
        return md.ToString();
    }

    private static string ScaleText(BenchOptions options) =>
        options.Scale == 1 ? "full size" : string.Create(_invariant, $"scale {options.Scale:0.####}{(options.Quick ? " (--quick)" : "")}");

    private static string Figures(Outcome outcome) => outcome.Value is { } m
        ? string.Create(_invariant, $"{m.Rows:N0} | {m.Elapsed.TotalSeconds:0.00} s | {m.RowsPerSecond:N0}")
        : $"— | {outcome.Failure} | —";

    /// <summary>The comparison with its goal, saying plainly when the goal is missed.</summary>
    private static string Versus(double? value, Func<double, FormattableString> describe, string goal, Func<double, bool> meets) => value switch
    {
        null => $"not measured ({goal})",
        { } v when meets(v) => $"{FormattableString.Invariant(describe(v))} — {goal}: met",
        { } v => $"{FormattableString.Invariant(describe(v))} — **target missed** ({goal})",
    };

    private static string Verdict(bool? met) => met switch
    {
        true => "met",
        false => "**target missed**",
        null => "not measured",
    };

    private static TimeSpan? PhaseTime(PushResult push, string phase)
    {
        var i = push.Phases.FindIndex(p => p.Phase == phase);
        return i >= 0 && i + 1 < push.Phases.Count ? push.Phases[i + 1].Time - push.Phases[i].Time : null;
    }

    private static string PhaseText(string phase, PushResult push) => phase switch
    {
        "Preparing" => "opening both databases, the run lock, checking capture and the target tables, claiming the node",
        "Staging" => "reading the coalesced changes from SQLite and streaming them into temporary staging tables by binary COPY",
        "Applying" => "per batch: one UPDATE of the rows this node wrote last (it checks and locks them as it writes), a join that checks and locks the target rows of the other changes, then set-based inserts and deletes",
        "Checking" => "checking the foreign keys of the rows written and deleted, one statement per key, locking the parent rows as PostgreSQL would",
        "Committing" => PhaseTime(push, "Checking") is null
            ? $"PostgreSQL's COMMIT, which checks the deferred foreign keys ({push.ForeignKeyChecks:N0} checks)"
            : "PostgreSQL's COMMIT",
        "Recording" => "marking the changes synced in SQLite, then the run log (file, backup, `dbsync.runs`)",
        _ => phase,
    };

    private static string Median(CaptureOverheadResult capture, List<TimeSpan> samples) => capture.Rate(samples).Value is { } m
        ? string.Create(_invariant, $"{m.Elapsed.TotalSeconds:0.00} s ({m.RowsPerSecond:N0} rows/s)")
        : "not measured";

    private static string Ratio(double? ratio) => ratio is { } r ? r.ToString("0.00", _invariant) + "×" : "—";

    private static string Samples(List<TimeSpan> samples) =>
        samples.Count == 0 ? "none" : string.Join(" / ", samples.Select(s => s.TotalSeconds.ToString("0.00", _invariant)));
}
