using System.Diagnostics;
using DbSync.Core;
using Microsoft.Data.Sqlite;

namespace DbSync.Bench;

/// <summary>Scenario 3's findings: medians of the repeated timings.</summary>
internal sealed class CaptureOverheadResult
{
    public const double InsertGoal = 1.5;
    public const double UpdateGoal = 2.0;

    public int Rows { get; set; }

    public int BatchSize { get; set; }

    public int Repetitions { get; set; }

    /// <summary>SQLite's journal mode and synchronous setting, as the connections reported them.</summary>
    public string JournalMode { get; set; } = "";

    public string Synchronous { get; set; } = "";

    public List<TimeSpan> PlainInserts { get; } = [];

    public List<TimeSpan> CapturedInserts { get; } = [];

    public List<TimeSpan> PlainUpdates { get; } = [];

    public List<TimeSpan> CapturedUpdates { get; } = [];

    /// <summary>
    /// The same writes into a <c>hosts</c> table with a unique index on <c>hostname</c>: capture then adds the two
    /// triggers that log the rows <c>OR REPLACE</c> would remove. Not a target; shown beside it.
    /// </summary>
    public List<TimeSpan> UniquePlainInserts { get; } = [];

    public List<TimeSpan> UniqueCapturedInserts { get; } = [];

    public List<TimeSpan> UniquePlainUpdates { get; } = [];

    public List<TimeSpan> UniqueCapturedUpdates { get; } = [];

    public string? Failure { get; set; }

    public IEnumerable<string> Failures => Failure is null ? [] : [$"DbSync capture: {Failure}"];

    public double? InsertRatio => Ratio(CapturedInserts, PlainInserts);

    public double? UpdateRatio => Ratio(CapturedUpdates, PlainUpdates);

    /// <summary>The list one kind of write's timings go to.</summary>
    public List<TimeSpan> Samples(bool unique, bool update, bool captured) => (unique, update, captured) switch
    {
        (false, false, false) => PlainInserts,
        (false, false, true) => CapturedInserts,
        (false, true, false) => PlainUpdates,
        (false, true, true) => CapturedUpdates,
        (true, false, false) => UniquePlainInserts,
        (true, false, true) => UniqueCapturedInserts,
        (true, true, false) => UniquePlainUpdates,
        (true, true, true) => UniqueCapturedUpdates,
    };

    public double? UniqueInsertRatio => Ratio(UniqueCapturedInserts, UniquePlainInserts);

    public double? UniqueUpdateRatio => Ratio(UniqueCapturedUpdates, UniquePlainUpdates);

    public IEnumerable<TargetCheck> Targets =>
    [
        new("3. Capture overhead, inserts", $"≤{InsertGoal}× the time without capture",
            InsertRatio is { } i ? $"{i:0.00}×" : $"not measured ({Failure})", TargetCheck.Judge(InsertRatio, r => r <= InsertGoal)),
        new("3. Capture overhead, updates", $"≤{UpdateGoal:0.0}× the time without capture",
            UpdateRatio is { } u ? $"{u:0.00}×" : $"not measured ({Failure})", TargetCheck.Judge(UpdateRatio, r => r <= UpdateGoal)),
    ];

    public IEnumerable<ChartBar> Bars =>
    [
        new("3 SQLite inserts, no capture", Rate(PlainInserts)),
        new("3 SQLite inserts, with capture", Rate(CapturedInserts)),
        new("3 SQLite updates, no capture", Rate(PlainUpdates)),
        new("3 SQLite updates, with capture", Rate(CapturedUpdates)),
    ];

    public static TimeSpan Median(List<TimeSpan> samples) => samples.Order().ElementAt(samples.Count / 2);

    public Outcome Rate(List<TimeSpan> samples) =>
        samples.Count > 0 ? Outcome.Of(Rows, Median(samples)) : Outcome.Failed(Failure ?? "not run");

    /// <summary>
    /// The median of the per-repetition ratios: each repetition times both files back to back, so a slow moment of
    /// the machine (a disk flush under synchronous=FULL) falls on both sides of one ratio instead of on one median.
    /// </summary>
    private static double? Ratio(List<TimeSpan> captured, List<TimeSpan> plain) =>
        captured.Count > 0 && captured.Count == plain.Count
            ? captured.Zip(plain, (c, p) => c / p).Order().ElementAt(captured.Count / 2)
            : null;
}

/// <summary>
/// Scenario 3: what capture triggers cost the application writing to SQLite. The same 200k inserts, then 200k
/// updates of every row, in transactions of 1,000 rows, into a table without and a table with DbSync capture.
/// Both files use SQLite's defaults (rollback journal). Five repetitions, interleaved, alternating which file goes
/// first; the ratio is the median of the per-repetition ratios.
/// </summary>
internal sealed class CaptureOverheadScenario(BenchContext context)
{
    private const int FullRows = 200_000;
    private const int BatchSize = 1_000;
    private const int Repetitions = 5;

    public async Task<CaptureOverheadResult> RunAsync(CancellationToken cancellationToken)
    {
        var rows = context.Options.Rows(FullRows);
        var result = new CaptureOverheadResult { Rows = rows, BatchSize = BatchSize, Repetitions = Repetitions };
        var table = Inventory.Hosts;
        var values = new InventoryValues(BenchContext.Seed + 3, new InventorySize(rows, 1, 1));
        var inserts = Enumerable.Range(1, rows).Select(id => values.Row(table, id)).ToList();
        var updates = Enumerable.Range(1, rows).Select(id => values.Row(table, id)).ToList();
        var plain = context.WorkFile("capture-plain.db");
        var captured = context.WorkFile("capture-captured.db");
        var uniquePlain = context.WorkFile("capture-unique-plain.db");
        var uniqueCaptured = context.WorkFile("capture-unique-captured.db");
        for (var repetition = 1; repetition <= Repetitions; repetition++)
        {
            context.Log($"Scenario 3: capture overhead, repetition {repetition} of {Repetitions} ({rows:N0} inserts, {rows:N0} updates; then with a unique index)");
            foreach (var unique in new[] { false, true })
            {
                var (plainFile, capturedFile) = unique ? (uniquePlain, uniqueCaptured) : (plain, captured);
                CreateFile(plainFile, table, unique);
                CreateFile(capturedFile, table, unique);
                try
                {
                    var enabled = await new SyncEngine().EnableAsync(new EnableRequest { Path = capturedFile }, cancellationToken);
                    if (!enabled.Tables.Contains(table.Name))
                    {
                        result.Failure = $"enable did not capture table {table.Name}";
                        return result;
                    }
                }
                catch (DbSyncException ex)
                {
                    result.Failure = $"{ex.ErrorId}: {ex.Message}";
                    return result;
                }

                (result.JournalMode, result.Synchronous) = ReadJournalSettings(plainFile);
                // Which file goes first alternates, so that neither side always meets the machine just after the other.
                var plainFirst = repetition % 2 == 1;
                foreach (var update in new[] { false, true })
                {
                    var (first, second) = plainFirst ? (plainFile, capturedFile) : (capturedFile, plainFile);
                    var firstTime = Write(first, table, update ? updates : inserts, update);
                    var secondTime = Write(second, table, update ? updates : inserts, update);
                    var (plainTime, capturedTime) = plainFirst ? (firstTime, secondTime) : (secondTime, firstTime);
                    result.Samples(unique, update, captured: false).Add(plainTime);
                    result.Samples(unique, update, captured: true).Add(capturedTime);
                }
            }
        }

        return result;
    }

    private static void CreateFile(string path, InventoryTable table, bool unique)
    {
        foreach (var file in new[] { path, path + "-journal", path + "-wal", path + "-shm", path + "-dbsync.lock" })
        {
            File.Delete(file);
        }

        using (var connection = Inventory.Open(path))
        {
            Inventory.Execute(connection, table.CreateSql);
            if (unique)
            {
                Inventory.Execute(connection, $"CREATE UNIQUE INDEX {table.Name}_hostname ON {table.Name} (hostname)");
            }
        }

        SqliteConnection.ClearAllPools();
    }

    /// <summary>Writes every row, <see cref="BatchSize"/> rows per transaction, with one prepared statement.</summary>
    private static TimeSpan Write(string path, InventoryTable table, List<object?[]> rows, bool update)
    {
        using var connection = Inventory.Open(path);
        using var command = update ? Inventory.UpdateCommand(connection, null, table) : Inventory.InsertCommand(connection, null, table);
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < rows.Count; start += BatchSize)
        {
            using var transaction = connection.BeginTransaction();
            command.Transaction = transaction;
            for (var i = start; i < Math.Min(start + BatchSize, rows.Count); i++)
            {
                Inventory.Bind(command, rows[i]);
                command.ExecuteNonQuery();
            }

            transaction.Commit();
        }

        return clock.Elapsed;
    }

    private static (string JournalMode, string Synchronous) ReadJournalSettings(string path)
    {
        using var connection = Inventory.Open(path);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        var journal = (string)command.ExecuteScalar()!;
        command.CommandText = "PRAGMA synchronous";
        var synchronous = (long)command.ExecuteScalar()! switch
        {
            0 => "OFF",
            1 => "NORMAL",
            2 => "FULL",
            3 => "EXTRA",
            var other => other.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return (journal, synchronous);
    }
}
