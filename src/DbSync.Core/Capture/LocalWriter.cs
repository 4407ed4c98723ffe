using System.Globalization;
using DbSync.Core.Planning;
using DbSync.Core.Target;
using Microsoft.Data.Sqlite;

namespace DbSync.Core.Capture;

/// <summary>
/// Writes the target's version of a row into SQLite for a conflict the target won, so both sides agree, without the
/// write being captured: the change-log entries the triggers add are removed in the same transaction. A row changed
/// locally again since the run's snapshot is left alone; that newer change is pushed by the next run.
/// </summary>
internal static class LocalWriter
{
    public static void Apply(SqliteConnection sqlite, SqliteTransaction transaction, TablePlan plan, IReadOnlyList<TargetWinsRow> rows)
    {
        var table = Identifiers.Quote(plan.Source.Name);
        var log = Identifiers.Quote(plan.Registry.LogTable);
        var logKeys = "(" + string.Join(", ", Enumerable.Range(1, plan.Source.KeyColumns.Count).Select(i => "k" + i.ToString(CultureInfo.InvariantCulture))) + ")";
        var keyColumns = plan.Source.KeyColumns.Select(k => Identifiers.Quote(k.Name)).ToList();
        var rowKey = "(" + string.Join(", ", keyColumns) + ")";
        var valueIndexes = Enumerable.Range(0, plan.Source.Columns.Count).Where(i => plan.Source.Columns[i].KeyPosition == 0).ToList();
        var before = CaptureStore.MaxSequence(sqlite, transaction, plan.Registry);
        foreach (var row in rows)
        {
            using (var newer = CaptureStore.Command(sqlite, transaction, $"SELECT count(*) FROM {log} WHERE seq > $s AND {logKeys} = ({row.Literals})"))
            {
                newer.Parameters.AddWithValue("$s", plan.Snapshot);
                if ((long)newer.ExecuteScalar()! > 0)
                {
                    continue;
                }
            }

            using var write = CaptureStore.Command(sqlite, transaction, "");
            if (row.Values is null)
            {
                write.CommandText = $"DELETE FROM {table} WHERE {rowKey} = ({row.Literals})";
            }
            else if (row.Kind == ConflictKind.DeletedLocally)
            {
                write.CommandText = $"INSERT INTO {table} ({string.Join(", ", keyColumns.Concat(valueIndexes.Select(i => Identifiers.Quote(plan.Source.Columns[i].Name))))}) " +
                    $"VALUES ({row.Literals}{string.Concat(valueIndexes.Select(i => ", $v" + i.ToString(CultureInfo.InvariantCulture)))})";
            }
            else if (valueIndexes.Count > 0)
            {
                write.CommandText = $"UPDATE {table} SET {string.Join(", ", valueIndexes.Select(i => $"{Identifiers.Quote(plan.Source.Columns[i].Name)} = $v{i.ToString(CultureInfo.InvariantCulture)}"))} " +
                    $"WHERE {rowKey} = ({row.Literals})";
            }
            else
            {
                continue;
            }

            if (row.Values is not null)
            {
                foreach (var i in valueIndexes)
                {
                    write.Parameters.AddWithValue("$v" + i.ToString(CultureInfo.InvariantCulture), row.Values[i] ?? DBNull.Value);
                }
            }

            write.ExecuteNonQuery();
        }

        using var forget = CaptureStore.Command(sqlite, transaction, $"DELETE FROM {log} WHERE seq > $b");
        forget.Parameters.AddWithValue("$b", before);
        forget.ExecuteNonQuery();
    }
}
