using System.Buffers.Binary;
using System.Globalization;
using DbSync.Core.Planning;
using DbSync.Core.Schema;
using DbSync.Core.Source;
using DbSync.Core.Target;
using Microsoft.Data.Sqlite;

namespace DbSync.Core.Capture;

/// <summary>
/// Writes the target's version of a row into SQLite for a conflict the target won, so both sides agree, without the
/// write being captured: the change-log entries of the rows written are removed in the same transaction when the row
/// then holds exactly the target's version. Only the columns the push would read otherwise than the target's values
/// are set, in the storage class the file's row holds where that is exact, so the others keep the application's
/// encoding; a value the column's affinity stores as another one is not kept, and the row is held (below). A row changed locally again since the run's snapshot is left alone; that
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
        var writers = plan.Source.Columns.Select((c, i) => new ValueWriter(plan.Source.Name, c.Name, plan.TargetTypes[i])).ToArray();
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
            // What is bound for each column: the target's value, or that value in the encoding the file's row uses.
            var values = row.Values is null ? null : (object?[])row.Values.Clone();
            IReadOnlyList<int> set = valueIndexes;
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
                // Only the columns whose value differs, by the push's own conversion, from the file's: writing the
                // target's canonical form over the others turned an application's epoch seconds into ISO text, 'true'
                // into 1 and an untyped 42 into '42' in columns nobody changed (fidelity exploration F1).
                set = Differing(sqlite, plan, writers, valueIndexes, row, values!);
                write.CommandText = set.Count == 0 ? "" : $"UPDATE {table} SET {string.Join(", ", set.Select(i => $"{Identifiers.Quote(plan.Source.Columns[i].Name)} = {Value(i)}"))} " +
                    $"WHERE {rowKey} = ({row.Literals})";
            }
            else
            {
                continue;
            }

            if (values is not null)
            {
                foreach (var i in set)
                {
                    write.Parameters.AddWithValue(Value(i), values[i] ?? DBNull.Value);
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
                if (write.CommandText.Length > 0)
                {
                    write.ExecuteNonQuery();
                }
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

            bool holds;
            if (values is null)
            {
                holds = (long)check.ExecuteScalar()! == 1;
            }
            else
            {
                (holds, var altered) = Verify(sqlite, plan, writers, valueIndexes, set, row, values);
                if (altered is not null)
                {
                    // SQLite's affinity changed a value as it was stored ('00042' into the integer 42 in a MONEY
                    // column, a 30-digit numeric into a real): marked as matching, the next push of the row sent the
                    // altered value over PostgreSQL's exact one (fidelity exploration F2, F4). The file keeps its own
                    // version, held, as for any version it cannot take.
                    CaptureStore.Execute(sqlite, transaction, "ROLLBACK TO dbsync_local; RELEASE dbsync_local");
                    Hold(row, altered);
                    continue;
                }
            }

            CaptureStore.Execute(sqlite, transaction, "RELEASE dbsync_local");
            // Forget the entries the write logged for this row, unless the application's triggers changed it after.
            if (holds)
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
    /// The value columns whose target value the push's conversion (into the target column's type) reads otherwise than
    /// the file's current value: those a write-back sets. For each, <paramref name="values"/> gets the target's value in
    /// the storage class the file's row holds there (Unix seconds for an integer, a Julian day for a real, 'false' for
    /// 'true'), when the push reads that as exactly the target's value; otherwise it keeps the target's value as
    /// <see cref="ReverseValue"/> gives it. All of them when the row is missing.
    /// </summary>
    private static List<int> Differing(SqliteConnection sqlite, TablePlan plan, ValueWriter[] writers, List<int> columns, TargetWinsRow row, object?[] values)
    {
        var n = columns.Count;
        using var reader = SourceRows.OpenWith(sqlite,
            $"SELECT {string.Join(", ", columns.Select(i => Identifiers.Quote(plan.Source.Columns[i].Name)).Concat(columns.Select(i => Parameter("t", i))))} " +
            $"FROM {Identifiers.Quote(plan.Source.Name)} WHERE {RowKey(plan)} = ({row.Literals})",
            columns.Select(i => (Parameter("t", i), row.Values![i])).ToList());
        if (!reader.Read())
        {
            return [.. columns];
        }

        var differing = new List<int>();
        for (var k = 0; k < n; k++)
        {
            var i = columns[k];
            var target = Push(writers[i], reader, n + k);
            if (target is not null && Same(plan.TargetTypes[i], Push(writers[i], reader, k), target))
            {
                continue;
            }

            differing.Add(i);
            if (target is not null && Reencode(sqlite, plan, i, writers[i], reader, k, row.Values![i], target) is { } encoded)
            {
                values[i] = encoded;
            }
        }

        return differing;
    }

    /// <summary>
    /// The target's value in the storage class the file's row holds: an integer, a real, or a boolean's text, when the
    /// push reads the result as exactly the target's value; null otherwise.
    /// </summary>
    private static object? Reencode(SqliteConnection sqlite, TablePlan plan, int column, ValueWriter writer, SourceRows reader, int ordinal, object? target, byte[] pushed)
    {
        var type = plan.TargetTypes[column];
        DateTime? moment = type.Kind is PgKind.Date or PgKind.Timestamp or PgKind.TimestampTz && target is string iso
            && ValueWriter.TryParseIso(iso, out var parsed, out _) ? parsed : null;
        var unixTicks = moment is { } m ? (m - DateTime.UnixEpoch).Ticks : 0;
        object? candidate = reader.Storage(ordinal) switch
        {
            StorageClass.Integer => target switch
            {
                string when moment is not null => unixTicks % TimeSpan.TicksPerSecond == 0 ? unixTicks / TimeSpan.TicksPerSecond : null,
                string text when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) => integer,
                double real when Math.Floor(real) == real && Math.Abs(real) < 9e18 => (long)real,
                _ => null,
            },
            StorageClass.Real => target switch
            {
                // SQLite's julianday(): days since noon of 24 November 4714 BC, which the push reads to the millisecond.
                string when moment is not null => unixTicks % TimeSpan.TicksPerMillisecond == 0 ? ((unixTicks / TimeSpan.TicksPerMillisecond) + 210_866_760_000_000d) / 86_400_000d : null,
                string text when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) => real,
                long integer => (double)integer,
                _ => null,
            },
            StorageClass.Text when type.Kind == PgKind.Boolean && target is long flag => BooleanText(reader.String(ordinal), flag == 1),
            _ => null,
        };

        // INTEGER and NUMERIC affinity store a whole real as an integer, which the push reads otherwise (Unix time, not a Julian day).
        if (candidate is double whole && Math.Floor(whole) == whole
            && TypeMapping.Affinity(plan.Source.Columns[column].DeclaredType) is SqliteAffinity.Integer or SqliteAffinity.Numeric)
        {
            return null;
        }

        if (candidate is null)
        {
            return null;
        }

        using var value = SourceRows.OpenWith(sqlite, "SELECT $v", [("$v", candidate)]);
        value.Read();
        return Same(type, Push(writer, value, 0), pushed) ? candidate : null;
    }

    /// <summary>A boolean as the file's row spells it (true/false or t/f, in its case), or null for another spelling.</summary>
    private static string? BooleanText(string current, bool flag)
    {
        var word = current.ToLowerInvariant() switch
        {
            "true" or "false" => flag ? "true" : "false",
            "t" or "f" => flag ? "t" : "f",
            _ => null,
        };
        return word is null ? null
            : current == current.ToUpperInvariant() ? word.ToUpperInvariant()
            : char.IsUpper(current[0]) ? char.ToUpperInvariant(word[0]) + word[1..]
            : word;
    }

    /// <summary>
    /// After a write: whether the row holds the target's version (every value column, written or not, read by the push as
    /// the target's value; false when the application's triggers changed or removed the row), and the reason to hold
    /// the row when SQLite's affinity stored a written value as another one (null when none did).
    /// </summary>
    private static (bool Holds, string? Altered) Verify(SqliteConnection sqlite, TablePlan plan, ValueWriter[] writers, List<int> columns,
        IReadOnlyList<int> set, TargetWinsRow row, object?[] values)
    {
        var n = columns.Count;
        var written = set.Select(i => Identifiers.Quote(plan.Source.Columns[i].Name)).ToList();
        var parameters = columns.Select(i => (Parameter("t", i), row.Values![i])).Concat(set.Select(i => (Parameter("w", i), values[i]))).ToList();
        using var reader = SourceRows.OpenWith(sqlite,
            $"SELECT {string.Join(", ", columns.Select(i => Identifiers.Quote(plan.Source.Columns[i].Name)).Concat(columns.Select(i => Parameter("t", i))).Concat(set.Select(i => Parameter("w", i))).DefaultIfEmpty("1"))}"
            + string.Concat(set.Select((i, j) => $", {written[j]} IS {Parameter("w", i)}"))
            + $" FROM {Identifiers.Quote(plan.Source.Name)} WHERE {RowKey(plan)} = ({row.Literals})",
            parameters);
        if (!reader.Read())
        {
            return (false, null);
        }

        var holds = true;
        for (var k = 0; k < n; k++)
        {
            var i = columns[k];
            var target = Push(writers[i], reader, n + k);
            if (target is not null && Same(plan.TargetTypes[i], Push(writers[i], reader, k), target))
            {
                continue;
            }

            var j = set is List<int> list ? list.IndexOf(i) : set.ToList().IndexOf(i);
            if (j >= 0)
            {
                var bound = 2 * n + j;
                if (Exact(reader, k, bound))
                {
                    if (target is null)
                    {
                        // A value the push refuses (infinity, a year BC), written as PostgreSQL's text: the next push holds it.
                        continue;
                    }
                }
                else if (reader.Int64(2 * n + set.Count + j) == 1)
                {
                    var column = plan.Source.Columns[i];
                    return (false, $"in table '{plan.Source.Name}', row ({Describe(plan, row)}), column '{column.Name}' ({(column.DeclaredType.Length == 0 ? "no declared type" : column.DeclaredType)}), "
                        + $"SQLite's {TypeMapping.Affinity(column.DeclaredType).ToString().ToUpperInvariant()} affinity stores PostgreSQL's value, {Show(reader, n + k)}, as {Show(reader, k)}, "
                        + "which a later push would send over PostgreSQL's value");
                }
            }

            holds = false;
        }

        return (holds, null);
    }

    private static string Show(SourceRows reader, int ordinal) => reader.Storage(ordinal) switch
    {
        StorageClass.Null => "NULL",
        StorageClass.Text => $"the text '{reader.Describe(ordinal)}'",
        var storage => $"the {storage.ToString().ToLowerInvariant()} {reader.Describe(ordinal)}",
    };

    /// <summary>The same storage class and the same value, bit for bit (no affinity, no collation).</summary>
    private static bool Exact(SourceRows reader, int a, int b)
    {
        var storage = reader.Storage(a);
        return storage == reader.Storage(b) && storage switch
        {
            StorageClass.Null => true,
            StorageClass.Integer => reader.Int64(a) == reader.Int64(b),
            StorageClass.Real => BitConverter.DoubleToInt64Bits(reader.Double(a)) == BitConverter.DoubleToInt64Bits(reader.Double(b)),
            StorageClass.Text => reader.Utf8(a).SequenceEqual(reader.Utf8(b)),
            _ => reader.Blob(a).SequenceEqual(reader.Blob(b)),
        };
    }

    /// <summary>The value as a push sends it (one field of a binary COPY), or null when the push refuses it.</summary>
    private static byte[]? Push(ValueWriter writer, SourceRows reader, int ordinal)
    {
        using var buffer = new MemoryStream();
        var copy = new CopyWriter(buffer);
        try
        {
            writer.Write(reader, ordinal, copy, static () => "");
        }
        catch (ValueConversionException)
        {
            return null;
        }

        copy.Finish();
        return buffer.ToArray();
    }

    /// <summary>
    /// Two pushed values are the same PostgreSQL value: the same bytes, except that a char(n) compares without its
    /// trailing blanks, as PostgreSQL compares it and gives it back ('a ' in the file is PostgreSQL's 'a  ' and 'a').
    /// </summary>
    private static bool Same(PgType type, byte[]? a, byte[] b)
    {
        // The COPY header (19 bytes), the field's length (4), the field, the end marker (2).
        const int Header = 19;
        if (a is null)
        {
            return false;
        }

        if (type.Kind != PgKind.Text || !type.Fixed || BinaryPrimitives.ReadInt32BigEndian(a.AsSpan(Header)) < 0 || BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(Header)) < 0)
        {
            return a.AsSpan().SequenceEqual(b);
        }

        return a.AsSpan(Header + 4, a.Length - Header - 6).TrimEnd((byte)' ').SequenceEqual(b.AsSpan(Header + 4, b.Length - Header - 6).TrimEnd((byte)' '));
    }

    private static string Parameter(string prefix, int column) => "$" + prefix + column.ToString(CultureInfo.InvariantCulture);

    private static string RowKey(TablePlan plan) => "(" + string.Join(", ", plan.Source.KeyColumns.Select(k => Identifiers.Quote(k.Name))) + ")";

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
