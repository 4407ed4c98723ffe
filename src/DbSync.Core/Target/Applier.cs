using System.Globalization;
using System.Text;
using DbSync.Core.Planning;
using DbSync.Core.Schema;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Core.Target;

/// <summary>What a run's apply phase needs to know besides the plan.</summary>
internal sealed class ApplyContext
{
    public required NpgsqlConnection Pg { get; init; }
    public required NpgsqlTransaction Transaction { get; init; }
    public required string Schema { get; init; }
    public required string NodeId { get; init; }
    public required Guid RunId { get; init; }
    public required ConflictPolicy Policy { get; init; }
    public string? NewestColumn { get; init; }
    public required int BatchSize { get; init; }

    /// <summary>
    /// Careful mode, after a run hit a row PostgreSQL rejected: constraints are checked immediately, each batch is
    /// first tried under a savepoint that is always rolled back, and a failing batch is split until the culprit rows
    /// are found and held back. The rows are then written outside any savepoint, so that their <c>xmin</c> is the
    /// run's own transaction id, which is what conflict detection recognises as this node's.
    /// </summary>
    public required bool Careful { get; init; }
}

/// <summary>A conflict the target won: the SQLite row is set to the target's version after PostgreSQL commits.</summary>
/// <param name="Literals">The SQLite key as literals.</param>
/// <param name="Kind">What both sides did.</param>
/// <param name="Values">The target row's values for every source column, as SQLite values; null when the target deleted it.</param>
/// <param name="Seq">The row's first pending change (null in a full copy): the entry kept when the file refuses the version.</param>
/// <param name="Key">The key as the held rows show it, <c>(id=1)</c>.</param>
internal sealed record TargetWinsRow(string Literals, ConflictKind Kind, object?[]? Values, long? Seq, string Key);

/// <summary>
/// Applies a staged table: detects conflicts (target rows whose <c>xmin</c> is not one of this node's transactions),
/// resolves them by policy and records them, then upserts and deletes, holding back rows PostgreSQL rejects.
/// </summary>
internal static class Applier
{
    private static string Q(string name) => Identifiers.Quote(name);

    private static string TargetTable(ApplyContext context, TablePlan plan) => Identifiers.Quote(context.Schema, plan.TargetName);

    private static string Match(TablePlan plan, string t, string s) => plan.KeyMatch(t, s) + plan.NodeFilter(t);

    private static List<string> ValueColumns(TablePlan plan)
    {
        var keys = plan.TargetKeyColumns.ToHashSet(StringComparer.Ordinal);
        return plan.TargetColumns.Where(c => !keys.Contains(c)).ToList();
    }

    /// <summary>
    /// A staged row's key as the jsonb object dbsync.conflicts records (target column names): recording a conflict and
    /// finding it again use this one form. Built from the key columns alone: the whole row as jsonb fails (54000) for a
    /// row whose values exceed what a jsonb holds, and the same object results.
    /// </summary>
    private static string KeyImage(TablePlan plan, string s) =>
        "(" + string.Join(" || ", plan.TargetKeyColumns.Select(k => $"jsonb_build_object({Literal(k)}, {s}.{Q(k)})")) + ")";

    /// <summary>A column name as an SQL string literal (a name, never a value).</summary>
    private static string Literal(string name) => "'" + name.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>A row whose values are estimated above this many bytes as jsonb is recorded without its largest values.</summary>
    internal const long LargeRowBytes = 64L * 1024 * 1024;

    /// <summary>In a row above <see cref="LargeRowBytes"/>, the values above this many bytes are left out of its record.</summary>
    internal const long LargeValueBytes = 1024L * 1024;

    /// <summary>
    /// <paramref name="alias"/>'s row as the jsonb image dbsync.conflicts records (<c>to_jsonb(alias.*)</c>, less
    /// <paramref name="less"/>). A jsonb object holds at most 256 MB, one string as much: a row near that (a 130 MB blob
    /// is 260 MB of hex) failed the run with a bare 54000 at every attempt, naming no table or row, and no other change of
    /// the file was ever pushed (fidelity exploration, F3). A row estimated above <see cref="LargeRowBytes"/> is recorded
    /// with its target columns only, those above <see cref="LargeValueBytes"/> left out and named under
    /// <c>_dbsync_omitted</c>. The estimate reads each value's length without reading the value (text and bytea:
    /// <c>octet_length</c>, bytea counting twice as hex; other types: their stored size).
    /// </summary>
    private static string Image(TablePlan plan, string alias, string less = "")
    {
        var sizes = plan.TargetColumns.Select((c, i) => (Column: c, Size: plan.TargetTypes[i].Kind switch
        {
            PgKind.Text => $"coalesce(octet_length({alias}.{Q(c)})::bigint, 0)",
            PgKind.Bytea => $"coalesce(2 * octet_length({alias}.{Q(c)})::bigint, 0)",
            _ => $"coalesce(pg_column_size({alias}.{Q(c)})::bigint, 0)",
        })).ToList();
        var total = string.Join(" + ", sizes.Select(s => s.Size));
        var kept = string.Join(" || ", sizes.Select(s =>
            $"CASE WHEN {s.Size} > {LargeValueBytes} THEN '{{}}'::jsonb ELSE jsonb_build_object({Literal(s.Column)}, {alias}.{Q(s.Column)}) END"));
        var omitted = $"jsonb_build_object('_dbsync_omitted', to_jsonb(array_remove(ARRAY[{string.Join(", ", sizes.Select(s => $"CASE WHEN {s.Size} > {LargeValueBytes} THEN {Literal(s.Column)} END"))}]::text[], NULL)))";
        return $"CASE WHEN {total} > {LargeRowBytes} THEN {kept} || {omitted} ELSE to_jsonb({alias}.*){less} END";
    }

    private static string Same(TablePlan plan, string t, string s)
    {
        var values = ValueColumns(plan);
        return values.Count == 0
            ? "true"
            : $"{Compared(plan, t)} IS NOT DISTINCT FROM {Compared(plan, s)}";
    }

    /// <summary>
    /// The value columns of <paramref name="alias"/>'s row as compared to tell whether a row already holds a version:
    /// text exactly, byte for byte (<c>COLLATE "C"</c>). Under the column's own collation a nondeterministic one (an
    /// administrator's case-insensitive ICU collation) calls 'a' and 'A' equal, and the file's change of case was skipped,
    /// counted as nothing and marked synced. A deterministic collation compares equal text as C does, so nothing else
    /// changes.
    /// </summary>
    private static string Compared(TablePlan plan, string alias)
    {
        var keys = plan.TargetKeyColumns.ToHashSet(StringComparer.Ordinal);
        return "(" + string.Join(", ", plan.TargetColumns.Select((c, i) => (Column: c, Type: plan.TargetTypes[i]))
            .Where(c => !keys.Contains(c.Column))
            .Select(c => $"{alias}.{Q(c.Column)}" + (c.Type.Kind == PgKind.Text ? " COLLATE \"C\"" : ""))) + ")";
    }

    /// <summary>
    /// SQL: under Newest, whether the source version <paramref name="s"/> is at least as new as the target's
    /// <paramref name="t"/>. A NULL on either side is a time not known, and the source wins, as it does for a delete (which
    /// has no time either): the target won against a node's NULL, and the node's write was reverted in the file, with
    /// nothing to say the target's was later (conflicts exploration, F6). A tie goes to the source. A text column (TEXT,
    /// or no declared type, in SQLite) compares as instants when both values are ISO 8601 date-times (text without a zone
    /// taken as UTC, as the push takes it), as numbers when both are numbers (Unix seconds), and as text otherwise: it
    /// compared as text always, and '2024-03-01T10:00' beat a later '2024-03-01 12:00' (' ' sorts before 'T'), and
    /// '999999999' beat '1000000000' (fidelity exploration, F5).
    /// </summary>
    private static string Newer(string s, string t, PgKind kind)
    {
        if (kind != PgKind.Text)
        {
            return $"({s} IS NULL OR {t} IS NULL OR {s} >= {t})";
        }

        return $"""
            ({s} IS NULL OR {t} IS NULL OR CASE
                WHEN {Instant(s)} IS NOT NULL AND {Instant(t)} IS NOT NULL THEN {Instant(s)} >= {Instant(t)}
                WHEN {s} ~ '{NumberPattern}' AND {t} ~ '{NumberPattern}' THEN {s}::numeric >= {t}::numeric
                ELSE {s} >= {t} END)
            """;
    }

    private const string NumberPattern = @"^[+-]?\d{1,20}(\.\d{1,20})?$";

    /// <summary>ISO 8601 as the push accepts it for a date-time column: a date, a time with or without seconds and fraction, a zone.</summary>
    private const string InstantPattern = @"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?( ?(Z|[+-]([01]\d|1[0-5])(:?[0-5]\d)?))?)?$";

    /// <summary>
    /// SQL: the text <paramref name="x"/> as a timestamptz when it is an ISO 8601 date or date-time that exists (no year 0,
    /// no 31 April), else NULL; never an error (nested CASEs, so no cast sees a text the pattern refused).
    /// </summary>
    private static string Instant(string x) => $"""
        CASE WHEN {x} ~ '{InstantPattern}' AND left({x}, 4) <> '0000' THEN
            CASE WHEN extract(day FROM make_date(left({x}, 4)::int, substr({x}, 6, 2)::int, 1) + interval '1 month - 1 day') >= substr({x}, 9, 2)::int THEN
                CASE WHEN length({x}) > 10 AND {x} ~ '(Z|[+-]\d\d(:?\d\d)?)$' THEN {x}::timestamptz ELSE {x}::timestamp AT TIME ZONE 'UTC' END
            END
        END
        """;

    /// <summary>
    /// Marks the staged rows that conflict. A target row that exists and was last written by another writer conflicts
    /// unless it already holds the staged values (then it is only adopted); a row this node changed but that is gone
    /// from the target conflicts too. Existing rows are locked in batch order so no one changes them until the commit.
    /// A push applies its updates of this node's rows here, first (see <see cref="TablePlan.UpdatedBatches"/>).
    /// </summary>
    /// <returns>The number of rows marked (conflicts, and rows to adopt or leave alone); 0 means nothing to resolve.</returns>
    /// <param name="context">The run's apply context.</param>
    /// <param name="plan">The table.</param>
    /// <param name="progress">Called after each batch whose updates were made here, with the rows inserted and updated so far.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public static async Task<long> ClassifyAsync(ApplyContext context, TablePlan plan, Action<long> progress, CancellationToken cancellationToken)
    {
        var staging = Q(plan.StagingTable);
        var target = TargetTable(context, plan);
        var newer = "false";
        if (context.Policy == ConflictPolicy.Newest)
        {
            var index = plan.IndexOf(context.NewestColumn!);
            newer = Newer($"s.{Q(plan.TargetColumns[index])}", $"t.{Q(plan.TargetColumns[index])}", plan.TargetTypes[index].Kind);
        }

        // A push first updates, in one statement a batch, the rows it updates that are this node's and whose values
        // differ: that takes the lock the classification would take, and spares those rows a probe of their own. When
        // it updated every one, only the batch's other rows (inserts, deletes) are classified; else the whole batch is,
        // and the rows just updated are found as this node's. Not in careful mode, whose writes are tried under
        // savepoints first (a row written in a savepoint would carry the savepoint's transaction id).
        var push = plan.Mode == LoadMode.Push;
        var values = ValueColumns(plan);
        var optimistic = push && !context.Careful && values.Count > 0;
        var batch = $"s.{Staging.RowNumber} > $1 AND s.{Staging.RowNumber} <= $2";
        var updates = $"s.{Staging.Bad} IS NULL AND NOT s.{Staging.Gone} AND s.{Staging.Op} IN (2, 3) AND s.{Staging.Skip} IS NOT TRUE";
        var update = $"""
            WITH u AS (
                UPDATE {target} AS t SET {string.Join(", ", values.Select(v => $"{Q(v)} = s.{Q(v)}"))}
                FROM {staging} AS s
                WHERE {batch} AND {updates} AND {Match(plan, "t", "s")} AND s.{Staging.Refused} IS NOT TRUE
                    AND {Conflicts.ConflictStore.WrittenByNode("t", "$3")} AND NOT {Same(plan, "t", "s")}
                RETURNING 1)
            SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM {staging} AS s WHERE {batch} AND {updates})
            """;

        // One statement a batch, one probe of the target a row: the join locks the existing rows and works out, for
        // the ones another writer wrote last, everything the conflict needs (the target image only for those); the
        // staged changes to rows the target lacks are the ones the join did not find. With `others`, the batch's
        // updates are left out: all were found and updated. A row deleted here is a conflict also when its first pending
        // change is an insert: that insert may be an INSERT OR REPLACE of a row the file had (logged as an insert), and
        // the target's row this file's own under an earlier node id (reset-node); leaving such a row alone, as an insert
        // and delete that never reached PostgreSQL, kept it there for good with nothing pending.
        string Classify(bool others)
        {
            var missing = push && !others
                ? $"""
                    UPDATE {staging} AS s SET {Staging.Conflict} = 'DeletedInTarget'
                    WHERE {batch} AND {updates} AND s.{Staging.RowNumber} NOT IN (SELECT n FROM cur)
                    RETURNING 1
                    """
                : "SELECT 1 WHERE false";
            return $"""
                WITH cur AS (
                    SELECT s.{Staging.RowNumber} AS n,
                        CASE WHEN NOT {Conflicts.ConflictStore.WrittenByNode("t", "$3")} OR s.{Staging.Refused} IS TRUE THEN {Image(plan, "t")} END AS image,
                        {Same(plan, "t", "s")} AS same,
                        {newer} AS newer
                    FROM {staging} AS s JOIN {target} AS t ON {Match(plan, "t", "s")}
                    WHERE {batch} AND s.{Staging.Bad} IS NULL AND s.{Staging.Skip} IS NOT TRUE{(others ? $" AND NOT ({updates})" : "")}
                    ORDER BY s.{Staging.RowNumber}
                    FOR NO KEY UPDATE OF t),
                found AS (
                    UPDATE {staging} AS s SET
                        {Staging.Conflict} = CASE WHEN s.{Staging.Gone} THEN 'DeletedLocally'
                            WHEN NOT cur.same THEN 'Changed' END,
                        {Staging.Touch} = NOT s.{Staging.Gone} AND cur.same,
                        {Staging.TargetImage} = cur.image,
                        {Staging.Newer} = cur.newer
                    FROM cur
                    WHERE s.{Staging.RowNumber} = cur.n AND cur.image IS NOT NULL AND {batch}
                    RETURNING 1),
                missing AS ({missing})
                SELECT (SELECT count(*) FROM found) + (SELECT count(*) FROM missing)
                """;
        }

        var all = Classify(others: false);
        var others = Classify(others: true);
        long marked = 0;
        for (long from = 0; from < plan.StagedRows; from += context.BatchSize)
        {
            var classify = all;
            if (optimistic)
            {
                using var first = new NpgsqlCommand(update, context.Pg, context.Transaction);
                first.Parameters.AddWithValue(from);
                first.Parameters.AddWithValue(from + context.BatchSize);
                first.Parameters.AddWithValue(context.NodeId);
                using var reader = await first.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var (updated, expected) = (reader.GetInt64(0), reader.GetInt64(1));
                plan.Result.Updated += updated;
                if (updated == expected)
                {
                    plan.UpdatedBatches.Add(from);
                    classify = others;
                }

                progress(plan.Result.Inserted + plan.Result.Updated);
            }

            using var command = new NpgsqlCommand(classify, context.Pg, context.Transaction);
            command.Parameters.AddWithValue(from);
            command.Parameters.AddWithValue(from + context.BatchSize);
            command.Parameters.AddWithValue(context.NodeId);
            marked += (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        return marked;
    }

    /// <summary>
    /// After a run that PostgreSQL committed but the file never recorded (<see cref="TablePlan.AppliedThrough"/>): the
    /// rows whose conflict that run resolved with the target winning, and that have not changed here since, are not
    /// pushed again, which would overwrite the version that won (it is this node's row now, so no conflict would stop
    /// it). The file gets the target's version of them when this run commits, as that run would have: the version that
    /// won then (its image in <c>dbsync.conflicts</c>), not what PostgreSQL holds now, since a change another writer made
    /// after that run is one the file would not have had either. They are that run's conflicts, counted and recorded by
    /// it: here they are neither classified nor counted (their conflict column stays null).
    /// Several unrecorded runs in a row (<see cref="TablePlan.UnrecordedRuns"/>): a later one recovered an earlier one's
    /// rows so, without a conflict of its own, so each run's are looked up, each up to its own snapshot, the latest
    /// conflict of a key deciding. Looked up in the last run alone, they were taken for rows it applied and marked synced,
    /// and the file kept the version that lost for good.
    /// </summary>
    public static async Task RecoverTargetWinsAsync(ApplyContext context, TablePlan plan, CancellationToken cancellationToken)
    {
        var runs = plan.UnrecordedRuns.ToArray();
        plan.Recovered = await ExecuteAsync(context, $"""
            UPDATE {Q(plan.StagingTable)} AS s SET {Staging.Winner} = 'Target', {Staging.Skip} = true, {Staging.TargetImage} = c.target_row
            FROM (SELECT DISTINCT ON (c.key) c.key, c.target_row, c.winner, u.through FROM dbsync.conflicts AS c
                    JOIN unnest($1::uuid[], $4::bigint[]) AS u (run_id, through) ON c.run_id = u.run_id
                    WHERE c.node_id = $2 AND c.table_name = $3 ORDER BY c.key, c.id DESC) AS c
            WHERE c.winner = 'Target' AND s.{Staging.Last} <= c.through AND c.key = {KeyImage(plan, "s")}
            """, cancellationToken, runs.Select(r => r.Key).ToArray(), context.NodeId, plan.Source.Name, runs.Select(r => r.Value).ToArray()).ConfigureAwait(false);
    }

    /// <summary>
    /// After a run that PostgreSQL committed but the file never recorded, in a table where that run held no row back
    /// (<see cref="TablePlan.AppliedAll"/>): every staged row whose changes are all at or before that run's snapshot was
    /// applied by it, so it is left out, exactly as if the file had recorded that run: not pushed, not classified, and
    /// marked synced when this run commits. Pushed again with conflict detection, a row another writer changed or deleted
    /// after that run was a conflict that the file's stale version won under SourceWins. Rows the target won then
    /// (<see cref="RecoverTargetWinsAsync"/>), rows the file refused the target's version of (still decided again), and
    /// rows whose values cannot be converted (held, as that run held them) are not among them.
    /// </summary>
    public static Task SkipAppliedAsync(ApplyContext context, TablePlan plan, CancellationToken cancellationToken) => ExecuteAsync(context, $"""
        UPDATE {Q(plan.StagingTable)} SET {Staging.Skip} = true
        WHERE {Staging.Last} <= $1 AND {Staging.Winner} IS NULL AND {Staging.Bad} IS NULL AND {Staging.Refused} IS NOT TRUE
        """, cancellationToken, plan.AppliedThrough);

    /// <summary>
    /// Marks the staged rows held because the file refused the version the target won (<see cref="Conflicts.HeldRows.RefusedKeys"/>):
    /// the classification takes the target row for the conflict's other side though this node wrote it last (the run the
    /// target won made it so, and the file never took that version), so the file's version is not pushed over it as the
    /// node's own change; the policy decides again.
    /// </summary>
    public static Task MarkRefusedAsync(ApplyContext context, TablePlan plan, string[] keys, CancellationToken cancellationToken) =>
        ExecuteAsync(context, $"UPDATE {Q(plan.StagingTable)} SET {Staging.Refused} = true WHERE {Staging.Literals} = ANY($1)", cancellationToken, [keys]);

    /// <summary>Applies the policy to the conflicts (<see cref="RecordAsync"/> records and counts them after the writes).</summary>
    public static async Task ResolveAsync(ApplyContext context, TablePlan plan, CancellationToken cancellationToken)
    {
        var staging = Q(plan.StagingTable);
        var winner = context.Policy switch
        {
            ConflictPolicy.SourceWins => "'Source'",
            ConflictPolicy.TargetWins => "'Target'",
            ConflictPolicy.Fail => "'None'",
            _ => $"CASE WHEN {Staging.Conflict} = 'Changed' AND NOT {Staging.Newer} THEN 'Target' ELSE 'Source' END",
        };
        await ExecuteAsync(context, $"""
            UPDATE {staging} SET {Staging.Winner} = {winner} WHERE {Staging.Conflict} IS NOT NULL;
            UPDATE {staging} SET {Staging.Skip} = true, {Staging.Touch} = {Staging.Conflict} <> 'DeletedInTarget' WHERE {Staging.Winner} = 'Target';
            UPDATE {staging} SET {Staging.Skip} = true,
                {Staging.Held} = 'conflict (' || {Staging.Conflict} || '): the row was ' || CASE {Staging.Conflict} WHEN 'DeletedInTarget' THEN 'deleted' ELSE 'changed' END
                    || ' in PostgreSQL by another writer since this node last synced it; the Fail policy leaves it pending (see dbsync conflicts)'
                WHERE {Staging.Winner} = 'None'
            """, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records the table's conflicts in dbsync.conflicts and counts them, after its writes, so that a conflict whose
    /// winning version PostgreSQL then refused (held back, nothing written) is recorded as such: winner <c>None</c>, and
    /// not resolved. Recorded before, it said <c>Source</c> for a write that never happened, and each run that met it
    /// again recorded it again (conflicts exploration, F4). Stamped with the time of the insert, moments before the
    /// commit, rather than the transaction's start: a run that waited for locks or took long to apply stamped its
    /// conflicts before a poller's last look, and <c>--since</c> that look never found them (conflicts exploration, F5).
    /// </summary>
    public static async Task RecordAsync(ApplyContext context, TablePlan plan, CancellationToken cancellationToken)
    {
        var staging = Q(plan.StagingTable);
        var winner = $"CASE WHEN s.{Staging.Winner} = 'Source' AND s.{Staging.Held} IS NOT NULL THEN 'None' ELSE s.{Staging.Winner} END";
        // A conflict left waiting (the Fail policy, a winning version PostgreSQL refused) is recorded once: every later run
        // meets it again (and counts it), and a node in continuous mode would record it every few seconds until someone
        // settles it. So is one met again because the file refused the version the target won, while it is decided the
        // same way between the same two versions.
        await ExecuteAsync(context, $"""
            INSERT INTO dbsync.conflicts (run_id, node_id, at, table_name, target_table, key, kind, policy, winner, source_row, target_row)
            SELECT $1, $2, clock_timestamp(), $3, $4, n.key, n.kind, $5, n.winner, n.source_row, n.target_row
            FROM (SELECT {KeyImage(plan, "s")} AS key, s.{Staging.Conflict} AS kind, {winner} AS winner,
                    CASE WHEN s.{Staging.Gone} THEN NULL ELSE {Image(plan, "s", " - $6::text[]")} END AS source_row, s.{Staging.TargetImage} AS target_row,
                    s.{Staging.RowNumber} AS row_number, s.{Staging.Refused} IS TRUE AS refused
                FROM {staging} AS s WHERE s.{Staging.Conflict} IS NOT NULL) AS n
            WHERE NOT ((n.winner = 'None' OR n.refused) AND EXISTS (
                SELECT 1 FROM dbsync.conflicts AS c
                WHERE c.node_id = $2 AND c.table_name = $3 AND c.key = n.key AND c.winner = n.winner AND c.kind = n.kind
                    AND c.source_row IS NOT DISTINCT FROM n.source_row AND c.target_row IS NOT DISTINCT FROM n.target_row))
            ORDER BY n.row_number
            """, cancellationToken, context.RunId, context.NodeId, plan.Source.Name, plan.Result.Target,
            context.Policy.ToString(), Staging.All).ConfigureAwait(false);

        // Only this run's conflicts count as resolved: the rows an unrecorded run's target won (RecoverTargetWinsAsync)
        // were that run's, and counted there; counted here too, resolved exceeded conflicts. Nor does one whose winning
        // version was held back.
        using var count = new NpgsqlCommand(
            $"SELECT count(*) FILTER (WHERE s.{Staging.Conflict} IS NOT NULL), count(*) FILTER (WHERE s.{Staging.Conflict} IS NOT NULL AND {winner} IN ('Source', 'Target')) FROM {staging} AS s",
            context.Pg, context.Transaction);
        using var reader = await count.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        plan.Result.Conflicts = reader.GetInt64(0);
        plan.Result.ConflictsResolved = reader.GetInt64(1);
    }

    /// <summary>Rewrites target rows that this node now agrees with, so that they count as its own from now on.</summary>
    public static Task TouchAsync(ApplyContext context, TablePlan plan, CancellationToken cancellationToken)
    {
        var column = Q(plan.TouchColumn);
        return ExecuteAsync(context, $"""
            UPDATE {TargetTable(context, plan)} AS t SET {column} = t.{column} FROM {Q(plan.StagingTable)} AS s
            WHERE {Match(plan, "t", "s")} AND s.{Staging.Touch}
            """, cancellationToken);
    }

    /// <summary>
    /// Upserts the staged rows that exist and are to be applied, in batches; rows whose values are already there are not
    /// touched. In a push, the rows the classification did not find in the target are inserted only if they are still
    /// absent: a row another writer inserted under the same key since the classification (which could not lock a row
    /// that was not there) makes the run start again, and the new classification sees it as the conflict it is.
    /// </summary>
    /// <exception cref="InsertRaceException">Another writer inserted a key this push was inserting.</exception>
    public static async Task UpsertAsync(ApplyContext context, TablePlan plan, Action<long> progress, CancellationToken cancellationToken)
    {
        var all = plan.TargetColumns.Select(Q).ToList();
        var keys = plan.QuotedTargetKey.ToList();
        var values = ValueColumns(plan).Select(Q).ToList();
        var insertColumns = plan.NodeColumn is null ? all : all.Prepend(Q(plan.NodeColumn)).ToList();
        var selectColumns = plan.NodeColumn is null ? all : all.Prepend($"'{plan.NodeId.Replace("'", "''", StringComparison.Ordinal)}'").ToList();
        var onConflict = values.Count == 0
            ? "DO NOTHING"
            : $"DO UPDATE SET {string.Join(", ", values.Select(v => $"{v} = EXCLUDED.{v}"))} " +
              $"WHERE {Compared(plan, "t")} IS DISTINCT FROM {Compared(plan, "EXCLUDED")}";
        var applied = $"NOT {Staging.Gone} AND {Staging.Bad} IS NULL AND {Staging.Skip} IS NOT TRUE AND {Staging.RowNumber} > $1 AND {Staging.RowNumber} <= $2";
        // Push: the rows found in the target (and locked) by the classification: those whose first change is an update
        // or a delete, unless found missing, and those another writer wrote (their image was taken); else, to insert.
        var push = plan.Mode == LoadMode.Push;
        var found = $"({Staging.Op} IN (2, 3) AND {Staging.Conflict} IS DISTINCT FROM 'DeletedInTarget' OR {Staging.TargetImage} IS NOT NULL)";
        var rowKeys = plan.TargetKeyColumns.Select(Q).ToList();
        // OVERRIDING SYSTEM VALUE: the file's keys are the rows' keys, also in a column an administrator made an identity
        // GENERATED ALWAYS (which COPY, the first load, fills without it). On a table without one it changes nothing.
        // The staged rows matching `where`, upserted; counts of rows inserted and rows updated, then `more`. A new row
        // version with xmax 0 is an insert; a partitioned table returns no system column, so there the rows whose key the
        // statement's snapshot already held (`pre`) are the updates.
        string Upsert(string where, string onConflictAction, string more = "") => plan.TargetPartitioned
            ? $"""
                WITH pre AS (
                    SELECT {string.Join(", ", rowKeys.Select(k => "s." + k))} FROM {Q(plan.StagingTable)} AS s JOIN {TargetTable(context, plan)} AS t ON {Match(plan, "t", "s")}
                    WHERE {where}),
                x AS (
                    INSERT INTO {TargetTable(context, plan)} AS t ({string.Join(", ", insertColumns)}) OVERRIDING SYSTEM VALUE
                    SELECT {string.Join(", ", selectColumns)} FROM {Q(plan.StagingTable)}
                    WHERE {where}
                    ON CONFLICT ({string.Join(", ", keys)}) {onConflictAction}
                    RETURNING {string.Join(", ", rowKeys.Select(k => "t." + k))}),
                y AS (SELECT EXISTS (SELECT 1 FROM pre WHERE ({string.Join(", ", rowKeys.Select(k => "pre." + k))}) = ({string.Join(", ", rowKeys.Select(k => "x." + k))})) AS updated FROM x)
                SELECT count(*) FILTER (WHERE NOT updated), count(*) FILTER (WHERE updated){more} FROM y
                """
            : $"""
                WITH x AS (
                    INSERT INTO {TargetTable(context, plan)} AS t ({string.Join(", ", insertColumns)}) OVERRIDING SYSTEM VALUE
                    SELECT {string.Join(", ", selectColumns)} FROM {Q(plan.StagingTable)}
                    WHERE {where}
                    ON CONFLICT ({string.Join(", ", keys)}) {onConflictAction}
                    RETURNING t.xmax = 0 AS inserted)
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted){more} FROM x
                """;
        var sql = Upsert(applied + (push ? $" AND {found}" : ""), onConflict);
        // A batch whose updates the classification applied has left only the rows it found another writer's.
        var rest = Upsert($"{applied} AND {Staging.TargetImage} IS NOT NULL AND {Staging.Op} NOT IN (2, 3)", onConflict);
        // A key this node wrote itself may be there (a run that PostgreSQL committed but the file never recorded): it
        // is rewritten. Only a row another writer wrote goes unwritten, and is counted as raced.
        // A row that is already there with the same values (the rewrite of a replayed insert, an INSERT OR REPLACE of
        // the same values) is left alone: it changed nothing, so it is not counted as updated.
        var insert = Upsert($"{applied} AND NOT {found}",
            values.Count == 0
                ? "DO NOTHING"
                : $"DO UPDATE SET {string.Join(", ", values.Select(v => $"{v} = EXCLUDED.{v}"))} WHERE {Conflicts.ConflictStore.WrittenByNode("t", "$3")} " +
                  $"AND {Compared(plan, "t")} IS DISTINCT FROM {Compared(plan, "EXCLUDED")}",
            $", (SELECT count(*) FROM {Q(plan.StagingTable)} WHERE {applied} AND NOT {found})");
        // Asked only when fewer rows were written than staged: how many of them this node's row already held unchanged.
        // Not the rows the insert itself just wrote (they are this node's too, and hold the staged values): counting
        // them hid a row another writer inserted meanwhile whenever the batch inserted any other row.
        var unchanged = $"""
            SELECT count(*) FROM {Q(plan.StagingTable)} AS s JOIN {TargetTable(context, plan)} AS t ON {Match(plan, "t", "s")}
            WHERE {applied} AND NOT {found} AND {Conflicts.ConflictStore.WrittenByNode("t", "$3")} AND t.xmin::text::bigint <> txid_current() % 4294967296
                AND {Same(plan, "t", "s")}
            """;
        var absent = $"""
            SELECT count(*) FROM {Q(plan.StagingTable)} AS s
            WHERE {applied} AND NOT {found} AND NOT EXISTS (SELECT 1 FROM {TargetTable(context, plan)} AS t WHERE {Match(plan, "t", "s")})
            """;
        async Task Apply(long from, long to, bool real)
        {
            using (var command = new NpgsqlCommand(plan.UpdatedBatches.Contains(from) ? rest : sql, context.Pg, context.Transaction))
            {
                command.Parameters.AddWithValue(from);
                command.Parameters.AddWithValue(to);
                using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (real)
                {
                    plan.Result.Inserted += reader.GetInt64(0);
                    plan.Result.Updated += reader.GetInt64(1);
                }
            }

            if (push)
            {
                using var command = new NpgsqlCommand(insert, context.Pg, context.Transaction);
                command.Parameters.AddWithValue(from);
                command.Parameters.AddWithValue(to);
                command.Parameters.AddWithValue(context.NodeId);
                using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var (inserted, rewritten, expected) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
                await reader.DisposeAsync().ConfigureAwait(false);
                if (inserted + rewritten < expected)
                {
                    using var same = new NpgsqlCommand(unchanged, context.Pg, context.Transaction);
                    same.Parameters.AddWithValue(from);
                    same.Parameters.AddWithValue(to);
                    same.Parameters.AddWithValue(context.NodeId);
                    var kept = (long)(await same.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                    if (inserted + rewritten + kept < expected && plan.Verify)
                    {
                        // A trigger or rule that skipped an insert leaves no row at all, where a racing writer leaves its
                        // own: those rows are not a race, and the check before the commit holds them back.
                        using var none = new NpgsqlCommand(absent, context.Pg, context.Transaction);
                        none.Parameters.AddWithValue(from);
                        none.Parameters.AddWithValue(to);
                        kept += (long)(await none.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                    }

                    if (inserted + rewritten + kept < expected)
                    {
                        throw new InsertRaceException(plan.Source.Name, expected - inserted - rewritten - kept);
                    }
                }

                if (real)
                {
                    plan.Result.Inserted += inserted;
                    plan.Result.Updated += rewritten;
                }
            }
        }

        for (long from = 0; from < plan.StagedRows; from += context.BatchSize)
        {
            await GuardedAsync(context, plan, from, Math.Min(from + context.BatchSize, plan.StagedRows), Apply, cancellationToken).ConfigureAwait(false);
            progress(plan.Result.Inserted + plan.Result.Updated);
        }
    }

    /// <summary>Deletes the staged rows that no longer exist in SQLite, in batches.</summary>
    public static async Task DeleteAsync(ApplyContext context, TablePlan plan, CancellationToken cancellationToken)
    {
        if (KeysCanCoincide(plan))
        {
            // A key SQLite tells apart from another that PostgreSQL stores as one (an untyped key's 1 and '1', a
            // timestamp written with 'T' and with a space): an UPDATE that only re-spells the key is logged as a delete
            // of the old spelling and an insert of the new. The insert has already written that PostgreSQL row; deleting
            // the old spelling would delete it.
            await ExecuteAsync(context, $"""
                UPDATE {Q(plan.StagingTable)} AS s SET {Staging.Skip} = true
                WHERE s.{Staging.Gone} AND s.{Staging.Skip} IS NOT TRUE
                    AND EXISTS (SELECT 1 FROM {Q(plan.StagingTable)} AS w WHERE NOT w.{Staging.Gone} AND {plan.KeyMatch("w", "s")})
                """, cancellationToken).ConfigureAwait(false);
        }

        var sql = $"""
            WITH x AS (
                DELETE FROM {TargetTable(context, plan)} AS t USING {Q(plan.StagingTable)} AS s
                WHERE s.{Staging.Gone} AND s.{Staging.Bad} IS NULL AND s.{Staging.Skip} IS NOT TRUE
                    AND s.{Staging.RowNumber} > $1 AND s.{Staging.RowNumber} <= $2 AND {Match(plan, "t", "s")}
                RETURNING 1)
            SELECT count(*) FROM x
            """;
        async Task Apply(long from, long to, bool real)
        {
            using var command = new NpgsqlCommand(sql, context.Pg, context.Transaction);
            command.Parameters.AddWithValue(from);
            command.Parameters.AddWithValue(to);
            var deleted = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (real)
            {
                plan.Result.Deleted += deleted;
            }
        }

        for (long from = 0; from < plan.StagedRows; from += context.BatchSize)
        {
            await GuardedAsync(context, plan, from, Math.Min(from + context.BatchSize, plan.StagedRows), Apply, cancellationToken, deleting: true).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// For a table with a trigger, rule or row security (<see cref="TablePlan.Verify"/>), after its writes and before the
    /// commit: compares, in one statement, the staged rows that were to be written or deleted with the target. A row to
    /// upsert must be there with the staged values (compared as the upsert compares them); a deleted row must be gone.
    /// A row that differs is held back like a row PostgreSQL rejected (it stays pending, with the reason), and the
    /// counts no longer count it. Tables without such objects are never checked: nothing there can change a row silently.
    /// </summary>
    public static async Task VerifyAsync(ApplyContext context, TablePlan plan, CancellationToken cancellationToken)
    {
        var staging = Q(plan.StagingTable);
        var target = TargetTable(context, plan);
        var key = "t." + Q(plan.TargetKeyColumns.First());
        var prefix = Conflicts.HeldRows.NotStoredPrefix;
        var what = $"a trigger, rule or row-level security policy on {target}";
        // A row this run wrote, but otherwise than sent, was counted as inserted (a push's insert, a first load) or updated.
        var insertedKind = "(d.op = 1 OR d.op = 0 AND $4)";
        var sql = $"""
            WITH d AS (
                SELECT s.{Staging.RowNumber} AS n, s.{Staging.Gone} AS gone, s.{Staging.Op} AS op, {key} IS NOT NULL AS present,
                    {key} IS NOT NULL AND t.xmin::text::bigint = txid_current() % 4294967296 AS written
                FROM {staging} AS s LEFT JOIN {target} AS t ON {Match(plan, "t", "s")}
                WHERE s.{Staging.Bad} IS NULL AND s.{Staging.Skip} IS NOT TRUE
                    AND CASE WHEN s.{Staging.Gone} THEN {key} IS NOT NULL ELSE {key} IS NULL OR NOT {Same(plan, "t", "s")} END),
            held AS (
                UPDATE {staging} AS s SET {Staging.Skip} = true, {Staging.Held} = CASE WHEN d.gone THEN $1 WHEN NOT d.present THEN $2 ELSE $3 END
                FROM d WHERE s.{Staging.RowNumber} = d.n
                RETURNING 1)
            SELECT (SELECT count(*) FROM held), count(*) FILTER (WHERE d.written AND NOT d.gone AND {insertedKind}),
                count(*) FILTER (WHERE d.written AND NOT d.gone AND NOT {insertedKind})
            FROM d
            """;
        using var command = new NpgsqlCommand(sql, context.Pg, context.Transaction);
        command.Parameters.AddWithValue($"{prefix}: {what} skipped the delete; the row is still in PostgreSQL");
        command.Parameters.AddWithValue($"{prefix}: {what} skipped it; PostgreSQL has no row with this key");
        command.Parameters.AddWithValue($"{prefix}: {what} changed it; PostgreSQL holds other values than the file");
        command.Parameters.AddWithValue(plan.Result.Mode == "InitialLoad");
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var (held, inserted, updated) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        plan.Result.Quarantined += held;
        plan.Result.Inserted = Math.Max(0, plan.Result.Inserted - inserted);
        plan.Result.Updated = Math.Max(0, plan.Result.Updated - updated);
    }

    /// <summary>
    /// True unless every key column keeps SQLite's distinctions in PostgreSQL: an INTEGER-affinity column stored as a
    /// PostgreSQL integer, or a TEXT-affinity column stored as text (SQLite's affinity makes 1 and '1' one value there).
    /// </summary>
    private static bool KeysCanCoincide(TablePlan plan) => !plan.Source.KeyColumns.All(c =>
        (TypeMapping.Affinity(c.DeclaredType), plan.TargetTypes[plan.IndexOf(c.Name)].Kind) is
            (SqliteAffinity.Integer, PgKind.Int16 or PgKind.Int32 or PgKind.Int64) or (SqliteAffinity.Text, PgKind.Text));

    /// <summary>
    /// True for errors that one row's values cause (data exceptions, constraint violations, a trigger's RAISE, a row
    /// security policy refusing the new row, and a value too large for an index, 54000, such as a long text key): the
    /// row is held back.
    /// </summary>
    public static bool IsRowProblem(Exception ex) =>
        ex is ValueConversionException or ForeignKeyCheckException || (ex is PostgresException pg && (pg.SqlState.StartsWith("22", StringComparison.Ordinal)
            || pg.SqlState.StartsWith("23", StringComparison.Ordinal) || pg.SqlState == PostgresErrorCodes.ProgramLimitExceeded
            // A trigger's RAISE (P0001 by default, P0004 for ASSERT) refuses the row it was called for, like a CHECK does.
            || pg.SqlState.StartsWith("P0", StringComparison.Ordinal)
            // So does a row-level security policy's WITH CHECK (or an UPDATE's USING) refusing the new row: 42501 like a
            // missing grant, told apart by the routine that raises it (the message is in the server's language).
            || (pg.SqlState == PostgresErrorCodes.InsufficientPrivilege && pg.Routine == "ExecWithCheckOptions")));

    /// <summary>
    /// Applies the rows numbered (from, to]. Outside careful mode, straight away. In careful mode, first as a trial under
    /// a savepoint that is always rolled back; a range that fails is split in two until single rows, which are held
    /// back with PostgreSQL's message; a range that passes is then applied for real.
    /// </summary>
    private static async Task GuardedAsync(ApplyContext context, TablePlan plan, long from, long to, Func<long, long, bool, Task> apply,
        CancellationToken cancellationToken, bool deleting = false)
    {
        if (!context.Careful)
        {
            await apply(from, to, true).ConfigureAwait(false);
            return;
        }

        PostgresException? failure = null;
        await ExecuteAsync(context, "SAVEPOINT dbsync_trial", cancellationToken).ConfigureAwait(false);
        try
        {
            await apply(from, to, false).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (IsRowProblem(ex))
        {
            failure = ex;
        }

        await ExecuteAsync(context, "ROLLBACK TO SAVEPOINT dbsync_trial; RELEASE SAVEPOINT dbsync_trial", cancellationToken).ConfigureAwait(false);
        if (failure is null)
        {
            await apply(from, to, true).ConfigureAwait(false);
        }
        else if (to - from == 1)
        {
            var reason = $"{Conflicts.HeldRows.RejectedPrefix}: {failure.SqlState}: {failure.MessageText}" + (TargetDatabase.DetailOf(failure) is { } detail ? " " + detail : "");
            if (failure.SqlState == PostgresErrorCodes.ForeignKeyViolation)
            {
                reason = reason.TrimEnd('.') + ". " + (deleting && (failure.TableName is null || failure.TableName == plan.TargetName)
                    // A delete refused because other rows of its own table still refer to it (a tree): those rows are the
                    // fix, not a missing parent (scale exploration, F5).
                    ? $"Other rows of {TargetTable(context, plan)} still refer to this row (those the file sends, or rows PostgreSQL alone has): delete them or point them elsewhere, here or there, then run 'dbsync quarantine --retry'."
                    : failure.TableName is { } child && child != plan.TargetName
                    // The row is the parent: a row of another table (one PostgreSQL alone has, or another node's) still refers to it.
                    ? $"Rows of {Identifiers.Quote(failure.SchemaName ?? context.Schema, child)} in PostgreSQL still refer to this row: delete them or point them elsewhere there, then run 'dbsync quarantine --retry'."
                    // An orphan whose parent another node or program deleted in PostgreSQL never leaves by itself: say how.
                    : "It goes once its parent is in PostgreSQL: if the parent exists here, change it here (it is then pushed again); if another node or program deleted it there, restore it there, or delete or change this row here.");
            }

            else if (failure.SqlState == PostgresErrorCodes.UniqueViolation && failure.ConstraintName is { } constraint)
            {
                // Rows that trade values of a unique constraint among themselves (two seats swapped, positions shifted by
                // one) make a valid end state that PostgreSQL refuses row by row, as it checks a constraint that is not
                // deferrable at each row: each row alone met the other's old value, and was held for ever, with nothing
                // in the file to fix (schema exploration, F7).
                reason = reason.TrimEnd('.') + $". If rows of this run trade values of \"{constraint}\" among themselves (a swap, a shift), PostgreSQL refuses each one alone though the end state is valid: " +
                    $"make it a DEFERRABLE INITIALLY DEFERRED constraint ({await DeferrableSqlAsync(context, failure.SchemaName ?? context.Schema, failure.TableName ?? plan.TargetName, constraint, cancellationToken).ConfigureAwait(false)}), then run 'dbsync quarantine --retry'. " +
                    "Otherwise another row in PostgreSQL holds the value: change one of the two.";
            }

            await ExecuteAsync(context, $"UPDATE {Q(plan.StagingTable)} SET {Staging.Skip} = true, {Staging.Held} = $1 WHERE {Staging.RowNumber} = $2",
                cancellationToken, reason, to).ConfigureAwait(false);
            plan.Result.Quarantined++;
        }
        else
        {
            var middle = from + ((to - from) / 2);
            await GuardedAsync(context, plan, from, middle, apply, cancellationToken, deleting).ConfigureAwait(false);
            await GuardedAsync(context, plan, middle, to, apply, cancellationToken, deleting).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Before the commit: copies the table's held rows into the SQLite connection's <c>temp._dbsync_run_held</c>
    /// (streamed, so memory does not grow with their number), and returns the conflicts the target won.
    /// </summary>
    public static async Task<List<TargetWinsRow>> CollectAsync(ApplyContext context, TablePlan plan, SqliteConnection sqlite, CancellationToken cancellationToken)
    {
        var staging = Q(plan.StagingTable);
        var keyText = string.Join(", ", plan.TargetKeyColumns.Select(k => $"{Q(k)}::text"));
        var rows = new List<TargetWinsRow>();
        var unresolved = plan.Result.Conflicts - plan.Result.ConflictsResolved;
        if (plan.Result.Quarantined == 0 && unresolved == 0 && plan.Recovered == 0
            && (plan.Result.Conflicts == 0 || context.Policy is ConflictPolicy.SourceWins or ConflictPolicy.Fail))
        {
            return rows;
        }

        using (var insert = Capture.CaptureStore.Command(sqlite, null,
            "INSERT INTO temp._dbsync_run_held (table_id, seq, lit, key, kind, reason) VALUES ($t, $s, $l, $k, $kind, $r)"))
        {
            var pTable = insert.Parameters.Add("$t", SqliteType.Integer);
            var pSeq = insert.Parameters.Add("$s", SqliteType.Integer);
            var pLit = insert.Parameters.Add("$l", SqliteType.Text);
            var pKey = insert.Parameters.Add("$k", SqliteType.Text);
            var pKind = insert.Parameters.Add("$kind", SqliteType.Text);
            var pReason = insert.Parameters.Add("$r", SqliteType.Text);
            using var command = new NpgsqlCommand($"""
                SELECT {Staging.Seq}, {Staging.Literals}, {Staging.KeyText}, CASE WHEN {Staging.Winner} = 'None' THEN 'Conflict' ELSE 'Quarantined' END,
                    coalesce({Staging.Bad}, {Staging.Held}), {keyText}, {Staging.RowNumber}, {Staging.Refused} IS TRUE
                FROM {staging} WHERE {Staging.Bad} IS NOT NULL OR {Staging.Held} IS NOT NULL ORDER BY {Staging.RowNumber}
                """, context.Pg, context.Transaction);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                pTable.Value = plan.Registry.Id;
                pSeq.Value = reader.IsDBNull(0) ? DBNull.Value : reader.GetInt64(0);
                pLit.Value = reader.IsDBNull(1) ? DBNull.Value : reader.GetString(1);
                pKey.Value = reader.IsDBNull(2) ? DescribeKey(plan, reader, 5) : reader.GetString(2);
                pKind.Value = reader.GetString(3);
                pReason.Value = reader.GetString(4);
                if (plan.HeldTexts.TryGetValue(reader.GetInt64(5 + plan.Source.KeyColumns.Count), out var held))
                {
                    pKey.Value = held.Key;
                    pReason.Value = held.Reason;
                }

                if (reader.GetBoolean(6 + plan.Source.KeyColumns.Count))
                {
                    // Held for another reason now (the Fail policy, PostgreSQL refusing the file's version): it must stay
                    // known as a row the target won and the file refused, or a later run would push it as the node's own.
                    pReason.Value = (string)pReason.Value + " " + Conflicts.HeldRows.RefusedNote;
                }

                insert.ExecuteNonQuery();
            }
        }

        var columns = string.Join(", ", plan.TargetColumns.Select((c, i) => ReverseValue.SelectText("t." + Q(c), plan.TargetTypes[i])));
        // A row an unrecorded run's target won (no conflict of this run's) gets the version that won then, from its image;
        // none means the target's side was its absence (DeletedInTarget). Every other row gets the target row as it is.
        var target = TargetTable(context, plan);
        using (var command = new NpgsqlCommand($"""
            SELECT s.{Staging.Literals}, s.{Staging.Seq}, {string.Join(", ", plan.TargetKeyColumns.Select(k => $"s.{Q(k)}::text"))},
                coalesce(s.{Staging.Conflict}, CASE WHEN s.{Staging.Gone} THEN 'DeletedLocally' WHEN t.{Q(plan.TargetKeyColumns.First())} IS NULL THEN 'DeletedInTarget' ELSE 'Changed' END),
                t.{Q(plan.TargetKeyColumns.First())} IS NOT NULL, {columns}
            FROM {staging} AS s LEFT JOIN LATERAL (
                    SELECT t.* FROM {target} AS t WHERE s.{Staging.Conflict} IS NOT NULL AND {Match(plan, "t", "s")}
                    UNION ALL
                    SELECT r.* FROM jsonb_populate_record((SELECT ROW(b.*)::{target} FROM {target} AS b WHERE {Match(plan, "b", "s")}), s.{Staging.TargetImage}) AS r
                    WHERE s.{Staging.Conflict} IS NULL AND s.{Staging.TargetImage} IS NOT NULL
                ) AS t ON true
            WHERE s.{Staging.Winner} = 'Target' AND s.{Staging.Literals} IS NOT NULL ORDER BY s.{Staging.RowNumber}
            """, context.Pg, context.Transaction))
        {
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var first = 2 + plan.Source.KeyColumns.Count;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                object?[]? values = null;
                if (reader.GetBoolean(first + 1))
                {
                    values = new object?[plan.TargetColumns.Count];
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = reader.IsDBNull(first + 2 + i) ? null : ReverseValue.FromText(reader.GetString(first + 2 + i), plan.TargetTypes[i]);
                    }
                }

                rows.Add(new TargetWinsRow(reader.GetString(0), Enum.Parse<ConflictKind>(reader.GetString(first)), values,
                    reader.IsDBNull(1) ? null : reader.GetInt64(1), DescribeKey(plan, reader, 2)));
            }
        }

        return rows;
    }

    private static string DescribeKey(TablePlan plan, NpgsqlDataReader reader, int first)
    {
        var text = new StringBuilder("(");
        for (var i = 0; i < plan.Source.KeyColumns.Count; i++)
        {
            text.Append(i == 0 ? "" : ", ").Append(plan.Source.KeyColumns[i].Name).Append('=')
                .Append(reader.IsDBNull(first + i) ? "NULL" : reader.GetString(first + i));
        }

        return text.Append(')').ToString();
    }

    /// <summary>
    /// The SQL that makes the unique constraint or index PostgreSQL named deferrable, for what it is: a constraint is
    /// dropped and added again; a unique index that is no constraint (<c>CREATE UNIQUE INDEX</c>, the usual way an
    /// administrator adds one) is dropped and replaced by a UNIQUE constraint of its columns, or, on an expression or with
    /// a WHERE, which a UNIQUE constraint cannot have, by an EXCLUDE constraint. The advice gave DROP CONSTRAINT for an
    /// index too, which fails ("constraint ... does not exist"), and left the columns as "(...)" (capture exploration 2, F7).
    /// </summary>
    private static async Task<string> DeferrableSqlAsync(ApplyContext context, string schema, string table, string name, CancellationToken cancellationToken)
    {
        var target = Identifiers.Quote(schema, table);
        var fallback = $"ALTER TABLE {target} DROP CONSTRAINT {Q(name)}, ADD CONSTRAINT {Q(name)} UNIQUE (...) DEFERRABLE INITIALLY DEFERRED";
        // After the trial's ROLLBACK TO SAVEPOINT the transaction is usable; a failure here only costs the precise advice.
        using var command = new NpgsqlCommand("""
            SELECT c.contype::text,
                (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' ORDER BY k) FROM generate_series(1, i.indnkeyatts) AS k),
                i.indexprs IS NOT NULL OR i.indpred IS NOT NULL,
                pg_get_expr(i.indpred, i.indrelid, true),
                (SELECT a.amname FROM pg_am AS a WHERE a.oid = x.relam)
            FROM pg_index AS i
            JOIN pg_class AS x ON x.oid = i.indexrelid
            JOIN pg_class AS t ON t.oid = i.indrelid
            JOIN pg_namespace AS n ON n.oid = t.relnamespace
            LEFT JOIN pg_constraint AS c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('u', 'p')
            WHERE n.nspname = $1 AND t.relname = $2 AND x.relname = $3 AND i.indisunique
            """, context.Pg, context.Transaction);
        command.Parameters.AddWithValue(schema);
        command.Parameters.AddWithValue(table);
        command.Parameters.AddWithValue(name);
        await ExecuteAsync(context, "SAVEPOINT dbsync_advice", cancellationToken).ConfigureAwait(false);
        try
        {
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.IsDBNull(1))
            {
                return fallback;
            }

            var kind = reader.IsDBNull(0) ? null : reader.GetString(0);
            var columns = reader.GetString(1);
            var computed = reader.GetBoolean(2);
            var predicate = reader.IsDBNull(3) ? null : reader.GetString(3);
            var method = reader.IsDBNull(4) ? "btree" : reader.GetString(4);
            await reader.CloseAsync().ConfigureAwait(false);
            return kind == "p" ? fallback
                : kind is not null
                ? $"ALTER TABLE {target} DROP CONSTRAINT {Q(name)}, ADD CONSTRAINT {Q(name)} UNIQUE ({columns}) DEFERRABLE INITIALLY DEFERRED"
                : computed
                    ? $"DROP INDEX {Identifiers.Quote(schema, name)}; ALTER TABLE {target} ADD CONSTRAINT {Q(name)} EXCLUDE USING {method} ({string.Join(", ", SplitTopLevel(columns).Select(c => $"({c}) WITH ="))}){(predicate is null ? "" : $" WHERE ({predicate})")} DEFERRABLE INITIALLY DEFERRED"
                    : $"DROP INDEX {Identifiers.Quote(schema, name)}; ALTER TABLE {target} ADD CONSTRAINT {Q(name)} UNIQUE ({columns}) DEFERRABLE INITIALLY DEFERRED";
        }
        catch (PostgresException)
        {
            return fallback;
        }
        finally
        {
            await ExecuteAsync(context, "ROLLBACK TO SAVEPOINT dbsync_advice; RELEASE SAVEPOINT dbsync_advice", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The comma-separated items of an index's key list, with commas inside parentheses or quotes kept.</summary>
    private static List<string> SplitTopLevel(string list)
    {
        var items = new List<string>();
        var depth = 0;
        var quote = '\0';
        var start = 0;
        for (var i = 0; i < list.Length; i++)
        {
            var ch = list[i];
            if (quote != '\0')
            {
                quote = ch == quote ? '\0' : quote;
            }
            else if (ch is '\'' or '"')
            {
                quote = ch;
            }
            else if (ch == '(')
            {
                depth++;
            }
            else if (ch == ')')
            {
                depth--;
            }
            else if (ch == ',' && depth == 0)
            {
                items.Add(list[start..i].Trim());
                start = i + 1;
            }
        }

        items.Add(list[start..].Trim());
        return items;
    }

    private static async Task<int> ExecuteAsync(ApplyContext context, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        using var command = new NpgsqlCommand(sql, context.Pg, context.Transaction);
        foreach (var parameter in parameters)
        {
            command.Parameters.AddWithValue(parameter);
        }

        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Another writer inserted, between a push's classification and its insert, a row under a key the push was inserting:
/// the run is started again (nothing of this attempt is committed), and the new classification sees the row.
/// </summary>
internal sealed class InsertRaceException(string table, long rows)
    : Exception($"{rows} row(s) of table {table} were inserted in PostgreSQL by another writer while this run was applying the same keys.")
{
    public string Table { get; } = table;
}
