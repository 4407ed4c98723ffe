using DbSync.Core.Planning;
using Npgsql;

namespace DbSync.Core.Target;

/// <summary>
/// A push's foreign keys checked by DbSync, one statement per foreign key, instead of by PostgreSQL's trigger per row.
/// Each such trigger runs a query at the commit (a deferred key) or the statement's end: about 14 µs a row, which made
/// the COMMIT of a 100,000-change push take longer than writing the changes. The run's writes are made with
/// <c>session_replication_role = replica</c>, which stops the triggers firing, and the same checks are then made for the
/// whole run, with the same locks:
/// <list type="bullet">
/// <item>every row the run wrote into a table with a foreign key must find its parent row, which is locked
/// <c>FOR KEY SHARE</c> as PostgreSQL's own check does, so no one can delete it before the commit;</item>
/// <item>no row may still reference a row the run deleted.</item>
/// </list>
/// A violation rolls the run back, and the next attempt is the careful one (PostgreSQL's own checks, immediate, which
/// hold the offending rows back). The checks are only taken over when nothing else depends on the triggers: every table
/// the run writes has no trigger or rule of its own that the setting would silence, the role may read both tables of
/// every key involved (no row security) and lock the parent's rows, no key that refers to a table the
/// run deletes from changes other rows (CASCADE, SET NULL, SET DEFAULT), and the role may change the setting (a
/// superuser, or <c>GRANT SET ON PARAMETER session_replication_role</c> on PostgreSQL 15 and later). Otherwise
/// PostgreSQL checks as before.
/// </summary>
internal sealed class BatchedForeignKeys
{
    private readonly List<(string Sql, string What)> _checks;

    private BatchedForeignKeys(List<(string Sql, string What)> checks) => _checks = checks;

    /// <summary>How many statements <see cref="CheckAndEndAsync"/> runs: one per foreign key and direction that the run's writes touch.</summary>
    public int Count => _checks.Count;

    private sealed record ForeignKey(string Name, uint Child, string ChildTable, string[] ChildColumns, uint Parent, string ParentTable,
        string[] ParentColumns, char OnDelete, char Match);

    private const string AppliedRow = $"s.{Staging.Bad} IS NULL AND s.{Staging.Skip} IS NOT TRUE";

    /// <summary>
    /// Takes the foreign-key checks over for the rest of the transaction when the run is a push and nothing needs the
    /// triggers (see the class summary); else returns null and PostgreSQL checks.
    /// </summary>
    public static async Task<BatchedForeignKeys?> TryBeginAsync(NpgsqlConnection pg, NpgsqlTransaction transaction, string schema,
        IReadOnlyList<TablePlan> plans, CancellationToken cancellationToken)
    {
        if (plans.Count == 0 || plans.Any(p => p.Mode != LoadMode.Push))
        {
            return null;
        }

        var written = plans.Where(p => p.StagedRows > 0).ToList();
        if (written.Count == 0)
        {
            return null;
        }

        var names = written.Select(p => Identifiers.Quote(schema, p.TargetName)).ToArray();
        var oids = new Dictionary<uint, TablePlan>();
        var keys = new List<ForeignKey>();
        // One round trip: small pushes (continuous mode) pay little for the question. The lock the writes would take
        // anyway, taken first, keeps the answer true until the commit: adding a trigger, a rule or a foreign key to a
        // written table, or disabling one, waits for it.
        using (var batch = new NpgsqlBatch(pg, transaction)
        {
            BatchCommands =
            {
                new($"LOCK TABLE {string.Join(", ", names)} IN ROW EXCLUSIVE MODE"),
                new("""
                    SELECT u.rel::oid,
                        -- a trigger the setting would silence, other than a foreign key's own; a rule; a table that is not plain
                        EXISTS (SELECT 1 FROM pg_trigger AS t LEFT JOIN pg_constraint AS c ON c.oid = t.tgconstraint
                            WHERE t.tgrelid = u.rel AND NOT (t.tgisinternal AND c.contype = 'f' AND t.tgenabled = 'O'
                                OR NOT t.tgisinternal AND t.tgenabled IN ('A', 'D')))
                        OR EXISTS (SELECT 1 FROM pg_rewrite AS r WHERE r.ev_class = u.rel AND r.rulename <> '_RETURN' AND r.ev_enabled IN ('O', 'R'))
                        OR EXISTS (SELECT 1 FROM pg_class AS k WHERE k.oid = u.rel AND (k.relkind <> 'r' OR k.relispartition OR k.relhassubclass))
                    FROM unnest($1::regclass[]) WITH ORDINALITY AS u (rel, i) ORDER BY u.i
                    """) { Parameters = { new() { Value = names } } },
                new("""
                    SELECT c.conname, c.conrelid, cn.nspname, cc.relname,
                        ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k (n, i) JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
                        c.confrelid, pn.nspname, pc.relname,
                        ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k (n, i) JOIN pg_attribute AS a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i),
                        c.confdeltype, c.confmatchtype,
                        cc.relkind = 'r' AND NOT cc.relispartition AND NOT cc.relhassubclass
                            -- PostgreSQL's check runs as the owner, past row security; DbSync's as the role, which must
                            -- see every row of both tables and lock the parent's (UPDATE on a column)
                            AND NOT cc.relrowsecurity AND NOT pc.relrowsecurity
                            AND has_schema_privilege(cn.oid, 'USAGE') AND has_table_privilege(c.conrelid, 'SELECT')
                            AND has_schema_privilege(pn.oid, 'USAGE') AND has_table_privilege(c.confrelid, 'SELECT')
                            AND has_any_column_privilege(c.confrelid, 'UPDATE')
                    FROM pg_constraint AS c
                        JOIN pg_class AS cc ON cc.oid = c.conrelid JOIN pg_namespace AS cn ON cn.oid = cc.relnamespace
                        JOIN pg_class AS pc ON pc.oid = c.confrelid JOIN pg_namespace AS pn ON pn.oid = pc.relnamespace
                    WHERE c.contype = 'f' AND (c.conrelid = ANY($1::regclass[]) OR c.confrelid = ANY($1::regclass[]))
                    ORDER BY c.oid
                    """) { Parameters = { new() { Value = names } } },
            },
        })
        {
            using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var blocked = false;
            var i = 0;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                blocked |= reader.GetBoolean(1);
                oids[reader.GetFieldValue<uint>(0)] = written[i++];
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                blocked |= !reader.GetBoolean(11);
                keys.Add(new ForeignKey(reader.GetString(0),
                    reader.GetFieldValue<uint>(1), Identifiers.Quote(reader.GetString(2), reader.GetString(3)), reader.GetFieldValue<string[]>(4),
                    reader.GetFieldValue<uint>(5), Identifiers.Quote(reader.GetString(6), reader.GetString(7)), reader.GetFieldValue<string[]>(8),
                    reader.GetChar(9), reader.GetChar(10)));
            }

            if (blocked)
            {
                return null;
            }
        }

        var checks = new List<(string Sql, string What)>();
        foreach (var key in keys)
        {
            if (key.Match != 's' && key.ChildColumns.Length > 1)
            {
                return null;
            }

            if (oids.TryGetValue(key.Child, out var child))
            {
                if (child.NodeColumn is not null || !key.ChildColumns.All(c => child.TargetColumns.Contains(c, StringComparer.Ordinal)))
                {
                    return null;
                }

                checks.Add(ChildCheck(key, child));
            }

            if (oids.TryGetValue(key.Parent, out var parent))
            {
                // The run's upserts match rows by key and never change it: only deletes can take a referenced row away.
                if (parent.NodeColumn is not null || !key.ParentColumns.Order(StringComparer.Ordinal).SequenceEqual(parent.TargetKeyColumns.Order(StringComparer.Ordinal), StringComparer.Ordinal))
                {
                    return null;
                }

                if (parent.StagedDeletes > 0)
                {
                    // A delete such a key must carry on (CASCADE, SET NULL, SET DEFAULT) would fail the check below and
                    // cost an attempt before PostgreSQL's triggers did it: they do it from the start instead.
                    if (key.OnDelete is not ('a' or 'r'))
                    {
                        return null;
                    }

                    checks.Add(ParentCheck(key, parent));
                }
            }
        }

        if (checks.Count == 0)
        {
            // No check the triggers would queue (no foreign key, or only ones referring to tables the run does not
            // delete from): nothing to take over.
            return null;
        }

        // Refused (42501) to a role that is neither a superuser nor granted the setting: PostgreSQL checks then.
        try
        {
            await PgWriter.ExecuteAsync(pg, transaction, "SAVEPOINT dbsync_replica; SET LOCAL session_replication_role = replica; RELEASE SAVEPOINT dbsync_replica",
                cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            await PgWriter.ExecuteAsync(pg, transaction, "ROLLBACK TO SAVEPOINT dbsync_replica; RELEASE SAVEPOINT dbsync_replica", cancellationToken).ConfigureAwait(false);
            return null;
        }

        return new BatchedForeignKeys(checks);
    }

    /// <summary>
    /// After the run's last write: makes the checks, then gives the triggers back for the rest of the transaction.
    /// </summary>
    /// <exception cref="ForeignKeyCheckException">A row the run wrote lacks its parent, or a row it deleted is still referenced.</exception>
    public async Task CheckAndEndAsync(NpgsqlConnection pg, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        foreach (var (sql, what) in _checks)
        {
            using var command = new NpgsqlCommand(sql, pg, transaction);
            if ((long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! is var rows and > 0)
            {
                throw new ForeignKeyCheckException(rows, what);
            }
        }

        await PgWriter.ExecuteAsync(pg, transaction, "SET LOCAL session_replication_role = origin", cancellationToken).ConfigureAwait(false);
    }

    private static string Columns(string alias, IEnumerable<string> columns) => string.Join(", ", columns.Select(c => $"{alias}.{Identifiers.Quote(c)}"));

    private static string Equal(string left, IReadOnlyList<string> leftColumns, string right, IReadOnlyList<string> rightColumns) =>
        string.Join(" AND ", leftColumns.Select((c, i) => $"{left}.{Identifiers.Quote(c)} = {right}.{Identifiers.Quote(rightColumns[i])}"));

    /// <summary>
    /// The distinct references the run wrote (rows with a null in the key refer to nothing, MATCH SIMPLE), less those
    /// whose parent exists; the parents found are locked as PostgreSQL's own check locks them.
    /// </summary>
    private static (string Sql, string What) ChildCheck(ForeignKey key, TablePlan child)
    {
        var refs = Columns("s", key.ChildColumns);
        return ($"""
            WITH r AS MATERIALIZED (
                SELECT DISTINCT {refs} FROM {Identifiers.Quote(child.StagingTable)} AS s
                WHERE NOT s.{Staging.Gone} AND {AppliedRow} AND {string.Join(" AND ", key.ChildColumns.Select(c => $"s.{Identifiers.Quote(c)} IS NOT NULL"))})
            SELECT (SELECT count(*) FROM r) - (SELECT count(*) FROM (
                SELECT 1 FROM {key.ParentTable} AS p JOIN r AS s ON {Equal("p", key.ParentColumns, "s", key.ChildColumns)} FOR KEY SHARE OF p) AS found)
            """,
            $"table {child.Source.Name}: row(s) refer to missing rows of {key.ParentTable} (foreign key {key.Name})");
    }

    /// <summary>The rows the run deleted that a row of the child table still refers to.</summary>
    private static (string Sql, string What) ParentCheck(ForeignKey key, TablePlan parent) => ($"""
        SELECT count(*) FROM {Identifiers.Quote(parent.StagingTable)} AS s
        WHERE s.{Staging.Gone} AND {AppliedRow}
            AND EXISTS (SELECT 1 FROM {key.ChildTable} AS c WHERE {Equal("c", key.ChildColumns, "s", key.ParentColumns)})
        """,
        $"table {parent.Source.Name}: deleted row(s) are still referenced from {key.ChildTable} (foreign key {key.Name})");
}

/// <summary>A push's own foreign-key check failed: the run is tried again with PostgreSQL checking row by row, which holds the rows back.</summary>
internal sealed class ForeignKeyCheckException(long rows, string what) : Exception($"{rows} {what}.");
