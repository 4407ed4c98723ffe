using System.Text;
using DbSync.Core.Planning;
using DbSync.Core.Source;
using DbSync.Core.Target;
using Npgsql;

namespace DbSync.Core.Conflicts;

/// <summary>
/// DbSync's tables in PostgreSQL's <c>dbsync</c> schema that conflict detection needs: <c>nodes</c> (who synced last
/// under each node id), <c>node_txns</c> (the transaction ids of each node's runs: a target row whose <c>xmin</c> is
/// not among them was last written by someone else) and <c>conflicts</c> (both versions of every conflicting row).
/// </summary>
public static class ConflictStore
{
    private const string CreateSql = """
        CREATE TABLE IF NOT EXISTS dbsync.nodes (
            node_id text PRIMARY KEY, last_run uuid, host text, path text, last_seen timestamptz, snapshots jsonb);
        ALTER TABLE dbsync.nodes ADD COLUMN IF NOT EXISTS snapshots jsonb;
        CREATE TABLE IF NOT EXISTS dbsync.node_txns (
            node_id text NOT NULL, xid bigint NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (node_id, xid));
        CREATE TABLE IF NOT EXISTS dbsync.conflicts (
            id bigserial PRIMARY KEY, run_id uuid NOT NULL, node_id text NOT NULL, at timestamptz NOT NULL DEFAULT now(),
            table_name text NOT NULL, target_table text NOT NULL, key jsonb NOT NULL, kind text NOT NULL, policy text NOT NULL,
            winner text NOT NULL, source_row jsonb, target_row jsonb);
        CREATE INDEX IF NOT EXISTS conflicts_node_at ON dbsync.conflicts (node_id, at);
        """;

    private const string TablesExist =
        "to_regclass('dbsync.nodes') IS NOT NULL AND to_regclass('dbsync.node_txns') IS NOT NULL AND to_regclass('dbsync.conflicts') IS NOT NULL";

    /// <summary>SQL: whether <c>dbsync.nodes</c> has the <c>snapshots</c> column (an older DbSync's lacks it).</summary>
    internal const string NodesHaveSnapshots =
        "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('dbsync.nodes') AND attname = 'snapshots' AND NOT attisdropped)";

    /// <summary>
    /// SQL: the target row <paramref name="alias"/> was last written by the node whose id is the parameter
    /// <paramref name="nodeParameter"/>: its <c>xmin</c> is one of that node's transactions.
    /// </summary>
    internal static string WrittenByNode(string alias, string nodeParameter) =>
        $"EXISTS (SELECT 1 FROM dbsync.node_txns AS x WHERE x.node_id = {nodeParameter} AND x.xid = {alias}.xmin::text::bigint)";

    /// <summary>
    /// Creates the tables when they are missing, and adds <c>nodes.snapshots</c> to tables an older DbSync created, in a
    /// transaction of its own under an advisory lock, so that fifty nodes starting together do not race on CREATE.
    /// Nothing is remembered between runs: a long-lived process (continuous mode, a PowerShell session) may meet a
    /// server that was restored, rebuilt or replaced on the same address.
    /// </summary>
    /// <returns>
    /// Null, or why <c>nodes.snapshots</c> is missing: the tables exist but this role may not add the column. The run
    /// goes on without it (see <see cref="NodeIdentity.ClaimAsync"/>).
    /// </returns>
    internal static async Task<string?> EnsureTablesAsync(NpgsqlConnection pg, CancellationToken cancellationToken)
    {
        // A role that may use the tables but not create them (an administrator created them) needs no DDL at all.
        using (var exists = new NpgsqlCommand(
            $"SELECT {TablesExist} AND {NodesHaveSnapshots}", pg))
        {
            if ((bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return null;
            }
        }

        PostgresException? denied = null;
        var transaction = await pg.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            await PgWriter.ExecuteAsync(pg, transaction, "SELECT pg_advisory_xact_lock(7346277010)", cancellationToken).ConfigureAwait(false);
            try
            {
                await PgWriter.EnsureSchemaAsync(pg, transaction, "dbsync", cancellationToken).ConfigureAwait(false);
                await PgWriter.ExecuteAsync(pg, transaction, CreateSql, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                denied = ex;
            }
        }

        using var tables = new NpgsqlCommand($"SELECT {TablesExist}", pg);
        if (!(bool)(await tables.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(denied);
        }

        return $"dbsync.nodes lacks the column 'snapshots' (an older DbSync created it) and this role may not add it ({denied.MessageText}); " +
            "its owner can run: ALTER TABLE dbsync.nodes ADD COLUMN snapshots jsonb. Until then, the run after one whose PostgreSQL commit was not " +
            "recorded in the file may report rows that run deleted as DeletedInTarget conflicts.";
    }

    /// <summary>
    /// A node id as DbSync writes it (<see cref="Guid.ToString()"/>: lower case, hyphens), or null when the text is no
    /// GUID. <c>node_id</c> is compared as text, so an upper-case, braced or hyphen-less spelling, which
    /// <see cref="Guid.TryParse(string?, out Guid)"/> accepts, found nothing.
    /// </summary>
    private static string? NodeIdText(string text) => Guid.TryParse(text, out var id) ? id.ToString() : null;

    /// <summary>Reads conflict records, newest first.</summary>
    public static async Task<IReadOnlyList<ConflictRecord>> QueryAsync(ConflictQuery query, CancellationToken cancellationToken)
    {
        if (query.Last < 1)
        {
            throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument, $"--last must be at least 1 (got {query.Last}).");
        }

        // Usage errors first, then the connection string, then the file: a missing connection string was reported only
        // once the file had a node id, so a job without one looked healthy (exit 0, no conflicts) until its first sync.
        var nodeId = query.NodeId is null ? null : NodeIdText(query.NodeId)
            // Node ids are GUIDs: anything else would only list nothing.
            ?? throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument, $"--node '{Secrets.Redact(query.NodeId ?? "")}' is not a node id (a GUID, as status and the run log show it).");
        var builder = TargetDatabase.ParseConnectionString(query.ConnectionString, query.Credential);
        if (query.Path is not null)
        {
            var path = SourceDatabase.Validate(query.Path);
            using var sqlite = SourceDatabase.Open(path);
            // As the file holds it: its runs recorded their conflicts under exactly this text.
            nodeId = Bookkeeping.RunLog.TableExists(sqlite, "_dbsync_meta") ? Capture.CaptureStore.ReadMeta(sqlite, null, "node_id") : null;
            if (nodeId is null)
            {
                return [];
            }
        }

        try
        {
            var pg = await TargetDatabase.OpenAsync(builder, cancellationToken).ConfigureAwait(false);
            await using var pgScope = pg.ConfigureAwait(false);
            using (var exists = new NpgsqlCommand("SELECT to_regclass('dbsync.conflicts') IS NOT NULL", pg))
            {
                if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
                {
                    return [];
                }
            }

            var sql = new StringBuilder("""
                SELECT id, run_id, node_id, at, table_name, target_table, key::text, kind, policy, winner, source_row::text, target_row::text
                FROM dbsync.conflicts WHERE true
                """);
            using var command = new NpgsqlCommand { Connection = pg };
            if (nodeId is not null)
            {
                command.Parameters.AddWithValue("node", nodeId);
                sql.Append(" AND node_id = @node");
            }

            if (query.RunId is { } run)
            {
                command.Parameters.AddWithValue("run", run);
                sql.Append(" AND run_id = @run");
            }

            if (query.Since is { } since)
            {
                command.Parameters.AddWithValue("since", DateTime.SpecifyKind(since.ToUniversalTime(), DateTimeKind.Utc));
                sql.Append(" AND at >= @since");
            }

            // Table patterns are applied here rather than in SQL: the same wildcard rules as everywhere else.
            sql.Append(" ORDER BY id DESC");
            command.CommandText = sql.ToString();
            var records = new List<ConflictRecord>();
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (records.Count < query.Last && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var table = reader.GetString(4);
                if (query.Tables.Count > 0 && !SyncPlanner.Matches(table, query.Tables))
                {
                    continue;
                }

                records.Add(new ConflictRecord
                {
                    Id = reader.GetInt64(0), RunId = reader.GetGuid(1), NodeId = reader.GetString(2),
                    At = DateTime.SpecifyKind(reader.GetDateTime(3), DateTimeKind.Utc), Table = table, Target = reader.GetString(5),
                    Key = reader.GetString(6), Kind = Enum.Parse<ConflictKind>(reader.GetString(7)), Policy = Enum.Parse<ConflictPolicy>(reader.GetString(8)),
                    Winner = reader.GetString(9), SourceRow = reader.IsDBNull(10) ? null : reader.GetString(10),
                    TargetRow = reader.IsDBNull(11) ? null : reader.GetString(11),
                });
            }

            return records;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw TargetDatabase.Translate(ex, builder);
        }
    }
}
