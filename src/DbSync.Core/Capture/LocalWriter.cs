using System.Globalization;
using DbSync.Core.Planning;
using DbSync.Core.Target;
using Microsoft.Data.Sqlite;

namespace DbSync.Core.Capture;

/// <summary>
/// Writes the target's version of a row into SQLite for a conflict the target won, so both sides agree, without the
/// write being captured: the change-log entries of the rows written are removed in the same transaction when the row
/// then holds exactly the target's version. A row changed locally again since the run's snapshot is left alone; that
/// newer change is pushed by the next run. So are changes the application's own triggers make during these writes,
/// to the row itself or to others. A row SQLite refuses to take (a constraint, a trigger's RAISE or error) keeps the file's
/// version and is named in a warning and held (<see cref="Conflicts.HeldRows.RefusedPrefix"/>), so every run meets its
/// conflict again.
/// </summary>
internal static class LocalWriter
{
    /// <param name="sqlite">The file, in <paramref name="transaction"/>.</param>
    /// <param name="transaction">The run's bookkeeping transaction.</param>
    /// <param name="plan">The table's plan.</param>
    /// <param name="rows">The rows the target won, with its versions.</param>
    /// <param name="refusedBefore">
    /// Rows of this run whose write an application trigger's <c>RAISE(ROLLBACK)</c> refused in an earlier attempt of the
    /// same bookkeeping (table id and key literals, to SQLite's message): they are held without being written again.
    /// </param>
    /// <returns>Warnings for the rows whose target version SQLite refused.</returns>
    /// <exception cref="TransactionRolledBackException">
    /// A write's refusal rolled the whole transaction back (an application trigger's <c>RAISE(ROLLBACK)</c>): the
    /// caller runs its transaction again with that row in <paramref name="refusedBefore"/>.
    /// </exception>
    public static List<string> Apply(SqliteConnection sqlite, SqliteTransaction transaction, TablePlan plan, IReadOnlyList<TargetWinsRow> rows,
        IReadOnlyDictionary<(long TableId, string Literals), string> refusedBefore)
    {
        var table = Identifiers.Quote(plan.Source.Name);
        var log = Identifiers.Quote(plan.Registry.LogTable);
        var logKeys = "(" + string.Join(", ", Enumerable.Range(1, plan.Source.KeyColumns.Count).Select(i => "k" + i.ToString(CultureInfo.InvariantCulture))) + ")";
        var keyColumns = plan.Source.KeyColumns.Select(k => Identifiers.Quote(k.Name)).ToList();
        var rowKey = "(" + string.Join(", ", keyColumns) + ")";
        // SQLite computes generated columns: they are neither set nor compared.
        var valueIndexes = Enumerable.Range(0, plan.Source.Columns.Count)
            .Where(i => plan.Source.Columns[i].KeyPosition == 0 && !plan.Source.Columns[i].Generated).ToList();
        string Value(int i) => "$v" + i.ToString(CultureInfo.InvariantCulture);
        var warnings = new List<string>();
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
            using var check = CaptureStore.Command(sqlite, transaction, "");
            if (row.Values is null)
            {
                write.CommandText = $"DELETE FROM {table} WHERE {rowKey} = ({row.Literals})";
                check.CommandText = $"SELECT count(*) = 0 FROM {table} WHERE {rowKey} = ({row.Literals})";
            }
            else if (row.Kind == ConflictKind.DeletedLocally)
            {
                write.CommandText = $"INSERT INTO {table} ({string.Join(", ", keyColumns.Concat(valueIndexes.Select(i => Identifiers.Quote(plan.Source.Columns[i].Name))))}) " +
                    $"VALUES ({row.Literals}{string.Concat(valueIndexes.Select(i => ", " + Value(i)))})";
            }
            else if (valueIndexes.Count > 0)
            {
                write.CommandText = $"UPDATE {table} SET {string.Join(", ", valueIndexes.Select(i => $"{Identifiers.Quote(plan.Source.Columns[i].Name)} = {Value(i)}"))} " +
                    $"WHERE {rowKey} = ({row.Literals})";
            }
            else
            {
                continue;
            }

            if (row.Values is not null)
            {
                // The row holds the target's version when every column compares equal (the column's affinity applies).
                check.CommandText = $"SELECT count(*) = 1 FROM {table} WHERE {rowKey} = ({row.Literals})"
                    + string.Concat(valueIndexes.Select(i => $" AND {Identifiers.Quote(plan.Source.Columns[i].Name)} IS {Value(i)}"));
                foreach (var i in valueIndexes)
                {
                    write.Parameters.AddWithValue(Value(i), row.Values[i] ?? DBNull.Value);
                    check.Parameters.AddWithValue(Value(i), row.Values[i] ?? DBNull.Value);
                }
            }

            if (refusedBefore.TryGetValue((plan.Registry.Id, row.Literals), out var refusal))
            {
                Hold(row, refusal);
                continue;
            }

            CaptureStore.Execute(sqlite, transaction, "SAVEPOINT dbsync_local");
            try
            {
                write.ExecuteNonQuery();
            }
            catch (SqliteException ex) when (RowRefused(ex))
            {
                if (SQLitePCL.raw.sqlite3_get_autocommit(sqlite.Handle) != 0)
                {
                    // RAISE(ROLLBACK) in an application trigger: SQLite rolled back the whole transaction, savepoint and
                    // all, and every later statement of it failed, so the run ended BookkeepingFailed after PostgreSQL
                    // committed, on every run; by the third the file's version went over PostgreSQL's with no conflict.
                    throw new TransactionRolledBackException(plan.Registry.Id, row.Literals, ex.Message);
                }

                CaptureStore.Execute(sqlite, transaction, "ROLLBACK TO dbsync_local; RELEASE dbsync_local");
                Hold(row, ex.Message);
                continue;
            }

            CaptureStore.Execute(sqlite, transaction, "RELEASE dbsync_local");
            // Forget the entries the write logged for this row, unless the application's triggers changed it after.
            if ((long)check.ExecuteScalar()! == 1)
            {
                CaptureStore.Execute(sqlite, transaction, $"DELETE FROM {log} WHERE seq > {before.ToString(CultureInfo.InvariantCulture)} AND {logKeys} = ({row.Literals})");
            }
        }

        return warnings;

        // The run has made PostgreSQL's row this node's: left as an ordinary pending change, the file's version went
        // over it on the next run as the node's own update (or delete), with no conflict. Held with this reason, its
        // first entry stays pending and every run takes the row for the conflict it is.
        void Hold(TargetWinsRow row, string message)
        {
            using (var hold = CaptureStore.Command(sqlite, transaction,
                "INSERT INTO temp._dbsync_run_held (table_id, seq, lit, key, kind, reason) VALUES ($t, $s, $l, $k, 'Conflict', $r)"))
            {
                hold.Parameters.AddWithValue("$t", plan.Registry.Id);
                hold.Parameters.AddWithValue("$s", row.Seq is { } seq ? seq : DBNull.Value);
                hold.Parameters.AddWithValue("$l", row.Literals);
                hold.Parameters.AddWithValue("$k", row.Key);
                hold.Parameters.AddWithValue("$r", $"{Conflicts.HeldRows.RefusedPrefix}, which won its conflict ({row.Kind}): {message.TrimEnd('.')}. "
                    + "Each run meets the conflict again, and PostgreSQL's version stays, until the file can take it or the conflict is decided otherwise (another policy, or a change in PostgreSQL).");
                hold.ExecuteNonQuery();
            }

            warnings.Add($"Table '{plan.Source.Name}': PostgreSQL's version of the row ({Describe(plan, row)}), which won its conflict ({row.Kind}), could not be written to the file: {message.TrimEnd('.')}. "
                + "The file keeps its own version, held (dbsync quarantine): each run meets the conflict again, and PostgreSQL's version stays, until the file can take it or the conflict is decided otherwise.");
        }
    }

    /// <summary>
    /// True when SQLite refused this one write, not the file or the connection: a constraint (a trigger's RAISE(ABORT)
    /// included), and any other error of the statement itself, such as an application trigger calling a function or a
    /// collation that only the application's own connections register ("no such function"), a datatype mismatch or a
    /// value too big. Those failed the whole bookkeeping after PostgreSQL committed, on every run. A busy or locked
    /// file, a full disk, an I/O error, damage, a read-only file, memory, an interrupt or an aborted transaction stay
    /// failures of the run (BookkeepingFailed, or retried when busy): they are not the row's.
    /// </summary>
    private static bool RowRefused(SqliteException ex) => (ex.SqliteErrorCode & 0xff) is not (
        3 /* PERM */ or 4 /* ABORT */ or 5 /* BUSY */ or 6 /* LOCKED */ or 7 /* NOMEM */ or 8 /* READONLY */ or 9 /* INTERRUPT */
        or 10 /* IOERR */ or 11 /* CORRUPT */ or 13 /* FULL */ or 14 /* CANTOPEN */ or 15 /* PROTOCOL */ or 17 /* SCHEMA */ or 26 /* NOTADB */);

    private static string Describe(TablePlan plan, TargetWinsRow row) =>
        string.Join(", ", plan.Source.KeyColumns.Select(k => k.Name)) + " = " + row.Literals;
}

/// <summary>
/// A write-back's refusal rolled back the whole SQLite transaction (an application trigger's <c>RAISE(ROLLBACK)</c>):
/// the bookkeeping runs again, with this row held instead of written.
/// </summary>
internal sealed class TransactionRolledBackException(long tableId, string literals, string reason) : Exception(reason)
{
    /// <summary>The registered table's id.</summary>
    public long TableId { get; } = tableId;

    /// <summary>The row's key, as SQL literals.</summary>
    public string Literals { get; } = literals;
}
