using System.Globalization;
using DbSync.Core.Source;

namespace DbSync.Core.Planning;

/// <summary>
/// One percentage for a whole run, which only goes up. Each table's read (its copy, or its pending changes staged) and,
/// for a table that goes through staging, its apply weigh the rows they are expected to move; together they take the
/// run to 95 %. The foreign-key check, the commit and the bookkeeping take it to 100 %.
/// </summary>
internal sealed class ProgressMeter
{
    private readonly List<TablePlan> _plans;
    private readonly long[] _read;
    private readonly long[] _apply;
    private int _last = -1;

    public ProgressMeter(List<TablePlan> plans)
    {
        _plans = plans;
        _read = plans.Select(_ => 1L).ToArray();
        _apply = plans.Select(_ => 1L).ToArray();
    }

    /// <summary>
    /// Estimates, inside the run's read snapshot, the rows each table's read will bring, cheaply: a rowid table's copy by
    /// its rowid range, a WITHOUT ROWID table's by a count, a push by the range of its pending log entries (a row
    /// changed many times brings one row for several entries, and the percentage catches up when the table is done).
    /// Called once every table's mode is settled: a table copied straight into its target has no apply.
    /// </summary>
    public void Estimate(SnapshotReader read)
    {
        for (var i = 0; i < _plans.Count; i++)
        {
            var plan = _plans[i];
            var table = Identifiers.Quote(plan.Source.Name);
            long rows;
            if (plan.Mode == LoadMode.Push)
            {
                rows = read.Scalar(string.Create(CultureInfo.InvariantCulture,
                    $"SELECT coalesce({plan.Snapshot} - min(seq) + 1, 0) FROM {Identifiers.Quote(plan.Registry.LogTable)} WHERE seq > {plan.AppliedThrough}"));
            }
            else
            {
                // A column named rowid hides the rowid; its values may be anything, which only makes the estimate wrong.
                // Sparse 64-bit keys (random, Snowflake-style) make a range of up to 2^64 rows: it is capped at what the
                // file could hold (a row takes more than 4 bytes), and the sums below are taken as doubles. Summed as
                // longs, two such tables overflowed, and every run with a progress reporter (the module's) failed as
                // DbSync.Unexpected (module exploration, F1).
                rows = read.Scalar(plan.Source.WithoutRowid ? $"SELECT count(*) FROM {table}"
                    : $"SELECT CAST(coalesce(min(max(rowid) - min(rowid) + 1.0, (SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size()) / 4), 0) AS INTEGER) FROM {table}");
            }

            _read[i] = Math.Max(rows, 1);
            _apply[i] = plan.Mode == LoadMode.CopyDirect ? 0 : _read[i];
        }
    }

    /// <summary>
    /// Records how many rows a staged table's read really brought to insert or update: what its apply reports going
    /// through. Its deletes come at the end of the writes, in one statement, and weigh nothing.
    /// </summary>
    public void Staged(TablePlan plan, long rows)
    {
        var i = _plans.IndexOf(plan);
        if (_apply[i] > 0)
        {
            _apply[i] = Math.Max(rows, 1);
        }
    }

    /// <summary>The run's percentage with <paramref name="rows"/> done in <paramref name="phase"/> of <paramref name="plan"/>.</summary>
    public int Percent(TablePlan plan, SyncPhase phase, long rows)
    {
        var i = _plans.IndexOf(plan);
        var total = _read.Sum(r => (double)r) + _apply.Sum(a => (double)a);
        var done = phase is SyncPhase.Copying or SyncPhase.Staging
            ? _read.Take(i).Sum(r => (double)r) + Math.Clamp(rows, 0, _read[i])
            : _read.Sum(r => (double)r) + _apply.Take(i).Sum(a => (double)a) + Math.Clamp(rows, 0, _apply[i]);
        return _last = Math.Max(_last, (int)(done * 95 / total));
    }

    /// <summary>The percentage of the phases after the writes.</summary>
    public static int Percent(SyncPhase phase) => phase switch
    {
        SyncPhase.Preparing => -1,
        SyncPhase.Checking => 95,
        SyncPhase.Committing => 99,
        _ => 100,
    };
}
