using System.Globalization;
using System.Text.Json;
using DbSync.Core.Bookkeeping;
using DbSync.Core.Capture;
using DbSync.Core.Source;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Core.Conflicts;

/// <summary>
/// A node's identity across copies. PostgreSQL keeps, per node id, the last run that committed (<c>dbsync.nodes</c>);
/// the file keeps its own run history. A file whose history does not contain the run PostgreSQL last saw under its
/// node id is not the file that made that run: it is a copy (or the original, after a copy ran), and it is refused
/// until <c>reset-node</c> gives it an identity of its own. A file that was only moved keeps its history and passes.
/// </summary>
public static class NodeIdentity
{
    /// <summary>Meta key of the last run this file saw committed in PostgreSQL.</summary>
    internal const string LastRunKey = "last_run";

    /// <summary>
    /// Inside the run's PostgreSQL transaction: refuses a duplicate node id, then records this run as the node's
    /// latest. Locks the node's row, so two files with one id cannot pass at the same time. <c>snapshots</c> says
    /// whether <c>dbsync.nodes</c> has its <c>snapshots</c> column.
    /// </summary>
    /// <returns>
    /// By table id, the changes PostgreSQL has and the file never recorded (<see cref="Unsettled"/>): those of the node's
    /// last committed run when it is one this file started but never recorded as committed (it was killed, or the file
    /// could not be written, after PostgreSQL committed), and those of earlier such runs that no run recorded since
    /// (see <see cref="RecordSnapshotsAsync"/>); then the id of that last run and its run log entry as committed (null
    /// when an older DbSync made it), or nulls when the file recorded it.
    /// </returns>
    /// <exception cref="DbSyncException">DuplicateNodeId.</exception>
    internal static async Task<(IReadOnlyDictionary<long, Unsettled> Unsettled, Guid? Run, RunLogEntry? Entry, long Xid)> ClaimAsync(NpgsqlConnection pg, NpgsqlTransaction transaction, SqliteConnection sqlite,
        string nodeId, Guid runId, string path, bool snapshots, CancellationToken cancellationToken)
    {
        Guid? lastRun = null;
        string? host = null, lastPath = null, lastSnapshots = null;
        DateTime? lastSeen = null;
        using (var command = new NpgsqlCommand(
            $"SELECT last_run, host, path, last_seen, {(snapshots ? "snapshots::text" : "NULL::text")} FROM dbsync.nodes WHERE node_id = $1 FOR UPDATE", pg, transaction))
        {
            command.Parameters.AddWithValue(nodeId);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                lastRun = reader.IsDBNull(0) ? null : reader.GetGuid(0);
                host = reader.IsDBNull(1) ? null : reader.GetString(1);
                lastPath = reader.IsDBNull(2) ? null : reader.GetString(2);
                lastSeen = reader.IsDBNull(3) ? null : reader.GetDateTime(3);
                lastSnapshots = reader.IsDBNull(4) ? null : reader.GetString(4);
            }
        }

        // In a database whose encoding lacks some of their characters, the path and the host name are kept with those
        // written as U+XXXX (ServerEncoding.Escape), and compared so: sent as they are, they failed every run with 22P05.
        string Fit(string text) => Target.ServerEncoding.Fit(pg, text);

        // Whether the file recorded the node's last committed run; if not, that run was this file's unrecorded one, or another file's.
        var recordedLast = lastRun is { } committed && RecordedLast(sqlite, null, committed);
        if (lastRun is { } seen && !recordedLast && !StartedUnrecorded(sqlite, seen))
        {
            var at = lastSeen?.ToString("u", CultureInfo.InvariantCulture);
            // The run was made from this very path on this host, and this file does not have it: the file was replaced by
            // an older version of itself (a backup restored over it, or an application that read it, into memory through
            // SQLite's backup API for one, and saved it back after that run). "Another file" would name this one.
            if (string.Equals(host, Fit(Environment.MachineName), StringComparison.OrdinalIgnoreCase)
                && string.Equals(lastPath, Fit(path), OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
            {
                throw new DbSyncException(ErrorIds.DuplicateNodeId, DbSyncErrorCategory.InvalidOperation,
                    $"'{path}' is an older copy of itself: PostgreSQL last synced node id {nodeId} from this same file (run {seen} at {at}), a run its history does not have, " +
                    "so the file was replaced since by a version older than that run: a backup restored over it, or an application that read the file (into memory through SQLite's backup API, for one) and saved it back over it after that run. " +
                    "PostgreSQL has changes this file no longer holds. If the newer version of the file still exists, put it back and sync again; " +
                    $"otherwise run 'dbsync reset-node --path \"{path}\" --connection ...' (Reset-DbSyncNode) to give this file an identity of its own, then 'dbsync sync --resync' to make PostgreSQL match it. Nothing was written.",
                    path);
            }

            throw new DbSyncException(ErrorIds.DuplicateNodeId, DbSyncErrorCategory.InvalidOperation,
                $"Node id {nodeId} of '{path}' is already used by another SQLite file: PostgreSQL last synced it from '{lastPath}' on host '{host}' " +
                $"(run {seen} at {at}), a run this file did not make: one of the two files is a copy of the other. " +
                $"Run 'dbsync reset-node --path <the copy> --connection ...' (Reset-DbSyncNode) on the copy to give it an identity of its own; with a connection it also releases the id for the other file (without one, the copy's next sync does). Nothing was written.",
                path);
        }

        using var claim = new NpgsqlCommand("""
            INSERT INTO dbsync.nodes (node_id, last_run, host, path, last_seen) VALUES (@node, @run, @host, @path, now())
            ON CONFLICT (node_id) DO UPDATE SET last_run = EXCLUDED.last_run, host = EXCLUDED.host, path = EXCLUDED.path, last_seen = EXCLUDED.last_seen;
            INSERT INTO dbsync.node_txns (node_id, xid) VALUES (@node, txid_current() % 4294967296) ON CONFLICT DO NOTHING;
            SELECT txid_current()
            """, pg, transaction);
        claim.Parameters.AddWithValue("node", nodeId);
        claim.Parameters.AddWithValue("run", runId);
        claim.Parameters.AddWithValue("host", Fit(Environment.MachineName));
        claim.Parameters.AddWithValue("path", Fit(path));
        // The transaction's id, by which a run whose connection broke during its COMMIT asks whether it committed.
        var xid = (long)(await claim.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;

        if (lastRun is not { } last || lastSnapshots is null)
        {
            return (new Dictionary<long, Unsettled>(), null, null, xid);
        }

        var (sequences, entries, entry, earlier) = ParseSnapshots(lastSnapshots);
        entry = entry?.RunId == last ? entry : null;
        // Tables that run did not cover keep what earlier unrecorded runs applied, whether or not the file recorded it: a
        // run of some tables (sync --table, quarantine --retry) settles only those. Settled for the whole file, the next
        // run pushed the rest again with conflict detection (interrupt exploration, F4).
        // A table no longer captured is dropped: its log went with it.
        var names = CaptureStore.ReadRegistry(sqlite, null).Values.ToDictionary(r => r.Id, r => r.Name);
        var unsettled = earlier.Where(e => !sequences.ContainsKey(e.Key) && names.ContainsKey(e.Key)).ToDictionary(e => e.Key, e => e.Value);
        if (!recordedLast)
        {
            foreach (var (tableId, through) in sequences)
            {
                // Counted before its COMMIT, the entry says whether that run held any row of the table back; the rows it held
                // are not recorded anywhere the next run can read, so only a table without any is known to have been applied in full.
                var all = names.TryGetValue(tableId, out var name)
                    && entry?.Tables.FirstOrDefault(t => Identifiers.SqliteNames.Equals(t.Name, name)) is { Quarantined: 0 } table
                    && table.Conflicts == table.ConflictsResolved;
                // The rows earlier unrecorded runs' target won and this one left for the file to take are still to be written
                // here; and so are this run's own.
                var runs = earlier.TryGetValue(tableId, out var before) ? new Dictionary<Guid, long>(before.Runs) : [];
                runs[last] = through;
                unsettled[tableId] = new Unsettled(through, all, runs) { ThroughEntry = entries.TryGetValue(tableId, out var number) ? number : null };
            }
        }

        return (unsettled, recordedLast ? null : last, recordedLast ? null : entry, xid);
    }

    /// <summary>
    /// Inside the run's PostgreSQL transaction, before <see cref="ClaimAsync"/>: a file whose node id PostgreSQL has never
    /// seen, that recorded no committed run and whose run log knows no other node id, has no past as a node; when
    /// <c>dbsync.nodes</c> still holds a node last synced from this very path on this host, the file may be that node's,
    /// having lost its identity (replaced by a backup from before capture was enabled or another database, DbSync's
    /// tables emptied by a "truncate every table" tool, capture removed with <c>disable --purge</c>): joined as a new
    /// node, it leaves every row PostgreSQL has and it lost in place (capture exploration 2, F2). It may as well be a new
    /// file with every right to join: a file rotated away and a new one started at its path, or devices cloned from one
    /// image sharing host name and path. Refusing those (as a first fix did) was worse (today's exploration, F1 and F2),
    /// and the file alone cannot tell which it is, so the run goes on as a new node and warns, once (the run it records
    /// ends the file's "no past").
    /// </summary>
    /// <returns>Null, or the warning.</returns>
    internal static async Task<string?> CheckPredecessorsAsync(NpgsqlConnection pg, NpgsqlTransaction transaction, SqliteConnection sqlite,
        string nodeId, string path, CancellationToken cancellationToken)
    {
        if (CaptureStore.ReadMeta(sqlite, null, LastRunKey) is not null)
        {
            return null;
        }

        var ignoreCase = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS();
        var predecessors = new List<(string NodeId, DateTime? LastSeen)>();
        using (var command = new NpgsqlCommand($"""
            SELECT node_id, last_seen FROM dbsync.nodes
            WHERE node_id <> $1 AND lower(host) = lower($2) AND {(ignoreCase ? "lower(path) = lower($3)" : "path = $3")}
                AND NOT EXISTS (SELECT 1 FROM dbsync.nodes AS self WHERE self.node_id = $1)
            ORDER BY last_seen DESC
            """, pg, transaction))
        {
            command.Parameters.AddWithValue(nodeId);
            command.Parameters.AddWithValue(Target.ServerEncoding.Fit(pg, Environment.MachineName)!);
            command.Parameters.AddWithValue(Target.ServerEncoding.Fit(pg, path)!);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                predecessors.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetDateTime(1)));
            }
        }

        // A node id the file's run log names (its own before a reset-node, or one a reset-node without --connection left
        // for this run to release) is the file's past, not a lost identity.
        var known = PendingReleases(sqlite).ToHashSet(StringComparer.Ordinal);
        if (RunLog.TableExists(sqlite, "_dbsync_runs"))
        {
            using var runs = CaptureStore.Command(sqlite, null, "SELECT DISTINCT node_id FROM _dbsync_runs WHERE node_id IS NOT NULL");
            using var reader = runs.ExecuteReader();
            while (reader.Read())
            {
                known.Add(reader.GetString(0));
            }
        }

        if (predecessors.Count == 0 || predecessors.Any(p => known.Contains(p.NodeId)))
        {
            return null;
        }

        static string Seen(DateTime? at) => at?.ToString("u", CultureInfo.InvariantCulture) ?? "at an unknown time";
        var names = string.Join(", ", predecessors.Select(p => $"{p.NodeId} (last synced {Seen(p.LastSeen)})"));
        return $"'{path}' has no DbSync history, yet PostgreSQL knows node id {names} synced from this same path on this host; this file joins as a new node. " +
            "Nothing is wrong if it is a new file (the old one rotated away, or a device cloned from the same image). " +
            "If it replaced the file that synced (a backup from before capture was enabled, a tool that emptied every table, 'disable --purge'), " +
            "rows that file had and this one lacks stay in PostgreSQL: put the file that synced back, or sync with --resync to make PostgreSQL match this file " +
            "(it deletes every row of the selected tables that the file lacks, other nodes' rows included).";
    }

    /// <summary>
    /// What PostgreSQL has of one table's changes that the file never recorded: the runs that committed them were killed,
    /// or could not write the file, after their COMMIT, and no run since recorded this table.
    /// </summary>
    /// <param name="Through">The sequence number through which PostgreSQL has the table's changes (the latest such run's snapshot).</param>
    /// <param name="AppliedAll">That run held no row of the table back, so it applied every change up to <paramref name="Through"/> but those the target won.</param>
    /// <param name="Runs">
    /// Each such run, with its snapshot of the table: the rows whose conflict one of them resolved with the target winning,
    /// and that have not changed here since its snapshot, still need that version in the file.
    /// </param>
    internal sealed record Unsettled(long Through, bool AppliedAll, IReadOnlyDictionary<Guid, long> Runs)
    {
        /// <summary>
        /// The random number of the change <see cref="Through"/> names in the file that run read (see
        /// <c>CaptureStore.EntryColumn</c>); null when an older DbSync made the run, which recorded the number only.
        /// </summary>
        public long? ThroughEntry { get; init; }
    }

    /// <summary>
    /// Inside the run's PostgreSQL transaction, just before its COMMIT: how far it read each table's change log (the
    /// largest sequence number), by table id, and the run's log entry as committed (under the key <c>run</c>). Committed
    /// with the run's changes, so that when the file cannot record the commit, the next run knows which of the changes
    /// it finds pending PostgreSQL already has, and logs what the run did. Under the key <c>earlier</c>, what earlier
    /// unrecorded runs applied (<paramref name="unsettled"/>, as <see cref="ClaimAsync"/> found it): of a table this run did
    /// not cover, all of it, which stays in force even once the file records this run; of one it covered, their runs only,
    /// whose target-won rows the file still needs if it never records this run either.
    /// </summary>
    internal static async Task RecordSnapshotsAsync(NpgsqlConnection pg, NpgsqlTransaction transaction, string nodeId, IEnumerable<(long TableId, long Sequence, long Entry)> snapshots,
        RunLogEntry entry, IReadOnlyDictionary<long, Unsettled> unsettled, CancellationToken cancellationToken)
    {
        var document = new System.Text.Json.Nodes.JsonObject();
        var entries = new System.Text.Json.Nodes.JsonObject();
        foreach (var (tableId, sequence, number) in snapshots)
        {
            document[tableId.ToString(CultureInfo.InvariantCulture)] = sequence;
            if (number != 0)
            {
                entries[tableId.ToString(CultureInfo.InvariantCulture)] = number;
            }
        }

        // Under a key of its own, which an older DbSync passes over (it reads table ids and its own keys only).
        document[EntriesKey] = entries;

        document[RunKey] = System.Text.Json.JsonSerializer.SerializeToNode(entry, RunLogEntry.JsonOptions);
        if (unsettled.Count > 0)
        {
            var earlier = new System.Text.Json.Nodes.JsonObject();
            foreach (var (tableId, table) in unsettled)
            {
                var runs = new System.Text.Json.Nodes.JsonObject();
                foreach (var (run, through) in table.Runs)
                {
                    runs[run.ToString()] = through;
                }

                var item = new System.Text.Json.Nodes.JsonObject { ["through"] = table.Through, ["all"] = table.AppliedAll, ["runs"] = runs };
                if (table.ThroughEntry is { } number)
                {
                    item["entry"] = number;
                }

                earlier[tableId.ToString(CultureInfo.InvariantCulture)] = item;
            }

            document[EarlierKey] = earlier;
        }

        // Characters as they are, not \uXXXX: jsonb turns an escape back into the character, which a database whose
        // encoding lacks it refuses (22P05). There the entry's path and message get U+XXXX for such characters instead (the
        // entry a later run recovers from here then shows them so).
        var json = Target.ServerEncoding.Fit(pg, document.ToJsonString(RunLogEntry.JsonOptions));

        using var command = new NpgsqlCommand("UPDATE dbsync.nodes SET snapshots = $2::jsonb WHERE node_id = $1", pg, transaction);
        command.Parameters.AddWithValue(nodeId);
        command.Parameters.AddWithValue(json);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The key of the run's log entry in <c>dbsync.nodes.snapshots</c>; the others are table ids, and <see cref="EarlierKey"/>.</summary>
    private const string RunKey = "run";

    /// <summary>The key, in <c>dbsync.nodes.snapshots</c>, of what earlier unrecorded runs applied, by table id (see <see cref="RecordSnapshotsAsync"/>).</summary>
    private const string EarlierKey = "earlier";

    /// <summary>The key, in <c>dbsync.nodes.snapshots</c>, of the random number of the change each table's snapshot names, by table id.</summary>
    private const string EntriesKey = "entries";

    private static (Dictionary<long, long> Sequences, Dictionary<long, long> Entries, RunLogEntry? Entry, Dictionary<long, Unsettled> Earlier) ParseSnapshots(string json)
    {
        var parsed = new Dictionary<long, long>();
        var entries = new Dictionary<long, long>();
        var earlier = new Dictionary<long, Unsettled>();
        RunLogEntry? entry = null;
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(json);
            if (document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object)
            {
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    if (long.TryParse(property.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && property.Value.TryGetInt64(out var sequence))
                    {
                        parsed[id] = sequence;
                    }
                    else if (property.Name == EntriesKey && property.Value.ValueKind == System.Text.Json.JsonValueKind.Object)
                    {
                        foreach (var table in property.Value.EnumerateObject())
                        {
                            if (long.TryParse(table.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var tableId) && table.Value.ValueKind == System.Text.Json.JsonValueKind.Number && table.Value.TryGetInt64(out var number))
                            {
                                entries[tableId] = number;
                            }
                        }
                    }
                    else if (property.Name == RunKey && property.Value.ValueKind == System.Text.Json.JsonValueKind.Object)
                    {
                        entry = ReadEntry(property.Value);
                    }
                    else if (property.Name == EarlierKey && property.Value.ValueKind == System.Text.Json.JsonValueKind.Object)
                    {
                        foreach (var table in property.Value.EnumerateObject())
                        {
                            if (long.TryParse(table.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var tableId) && ReadUnsettled(table.Value) is { } unsettled)
                            {
                                earlier[tableId] = unsettled;
                            }
                        }
                    }
                }
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not written by DbSync: nothing is known, and the run treats every pending change as not yet applied.
        }

        return (parsed, entries, entry, earlier);
    }

    /// <summary>One table of <see cref="EarlierKey"/>; null when it is not as DbSync writes it (then nothing is known of that table).</summary>
    private static Unsettled? ReadUnsettled(System.Text.Json.JsonElement element)
    {
        if (element.ValueKind != System.Text.Json.JsonValueKind.Object
            || !element.TryGetProperty("through", out var through) || through.ValueKind != System.Text.Json.JsonValueKind.Number || !through.TryGetInt64(out var sequence)
            || !element.TryGetProperty("all", out var all) || all.ValueKind is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False)
            || !element.TryGetProperty("runs", out var runs) || runs.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            return null;
        }

        var parsed = new Dictionary<Guid, long>();
        foreach (var run in runs.EnumerateObject())
        {
            if (!Guid.TryParse(run.Name, out var id) || run.Value.ValueKind != System.Text.Json.JsonValueKind.Number || !run.Value.TryGetInt64(out var runThrough))
            {
                return null;
            }

            parsed[id] = runThrough;
        }

        long? number = element.TryGetProperty("entry", out var entry) && entry.ValueKind == System.Text.Json.JsonValueKind.Number && entry.TryGetInt64(out var value) ? value : null;
        return new Unsettled(sequence, all.GetBoolean(), parsed) { ThroughEntry = number };
    }

    private static RunLogEntry? ReadEntry(System.Text.Json.JsonElement element)
    {
        try
        {
            return element.Deserialize<RunLogEntry>(RunLogEntry.JsonOptions);
        }
        catch (System.Text.Json.JsonException)
        {
            return null; // not one DbSync wrote: the run is logged as before, Abandoned without counts
        }
    }

    /// <summary>The file's meta key for node ids a reset-node without connection left to release.</summary>
    private const string ReleaseKey = "release_node_ids";

    /// <summary>
    /// Releases <paramref name="nodeId"/> in dbsync.nodes when PostgreSQL's last run under it is one this file made, and
    /// gives its transactions to <paramref name="heir"/>, the file's new id; with <paramref name="delete"/> false, only says
    /// whether it would.
    /// </summary>
    private static async Task<bool> ReleaseAsync(NpgsqlConnection pg, SqliteConnection sqlite, SqliteTransaction? transaction, string nodeId, string heir,
        CancellationToken cancellationToken, bool delete = true)
    {
        using var read = new NpgsqlCommand("SELECT last_run FROM dbsync.nodes WHERE node_id = $1 AND to_regclass('dbsync.nodes') IS NOT NULL", pg);
        read.Parameters.AddWithValue(nodeId);
        object? last;
        try
        {
            last = await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return false;
        }

        if (last is not Guid run || !Knows(sqlite, transaction, run))
        {
            return false;
        }

        if (!delete)
        {
            return true;
        }

        // This file made the old id's last run, so what the old id wrote is this file's: the new id owns it too. Left to
        // the old id alone, every row the file had synced was another writer's to the new one, and the file's own changes
        // pending at the reset were conflicts with itself: undone under TargetWins, held under Fail (fleet exploration,
        // F3). Shared, not moved: a copy released so leaves the id to the original, whose history before the copy this is
        // too. One statement, so the id is never released without its transactions passing on.
        using var release = new NpgsqlCommand("""
            WITH released AS (DELETE FROM dbsync.nodes WHERE node_id = $1 AND last_run = $2 RETURNING node_id),
            adopted AS (
                INSERT INTO dbsync.node_txns (node_id, xid, at)
                SELECT $3, t.xid, t.at FROM dbsync.node_txns AS t WHERE t.node_id = $1 AND EXISTS (SELECT 1 FROM released)
                ON CONFLICT DO NOTHING)
            SELECT count(*) FROM released
            """, pg);
        release.Parameters.AddWithValue(nodeId);
        release.Parameters.AddWithValue(run);
        release.Parameters.AddWithValue(heir);
        return (long)(await release.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0;
    }

    /// <summary>
    /// Inside a run's PostgreSQL transaction: releases the node ids this file had before a reset-node that had no
    /// connection, when PostgreSQL's last run under them is one this file made, so that the file it was copied from can
    /// go on under its id. The file forgets them once the run commits (<see cref="ForgetPendingReleases"/>).
    /// </summary>
    /// <returns>
    /// Null, or a warning when the role may not DELETE from dbsync.nodes (a grant only this needs) and an id needs
    /// releasing: the ids then stay to release, and the run goes on (its 42501 failed every run of the file).
    /// </returns>
    internal static async Task<string?> ReleasePendingAsync(NpgsqlConnection pg, SqliteConnection sqlite, CancellationToken cancellationToken)
    {
        var pending = PendingReleases(sqlite);
        if (pending.Count == 0)
        {
            return null;
        }

        bool mayDelete;
        using (var may = new NpgsqlCommand("SELECT CASE WHEN to_regclass('dbsync.nodes') IS NULL THEN true ELSE has_table_privilege('dbsync.nodes', 'DELETE') END", pg))
        {
            mayDelete = (bool)(await may.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        var kept = new List<string>();
        var heir = CaptureStore.ReadMeta(sqlite, null, "node_id") ?? "";
        foreach (var nodeId in pending)
        {
            if (await ReleaseAsync(pg, sqlite, null, nodeId, heir, cancellationToken, delete: mayDelete).ConfigureAwait(false) && !mayDelete)
            {
                kept.Add(nodeId);
            }
        }

        return kept.Count == 0 ? null
            : $"The node id(s) {string.Join(", ", kept)} this file had before a reset-node without --connection stay claimed in dbsync.nodes: releasing them needs DELETE on dbsync.nodes, which {pg.UserName} lacks. "
              + $"Until a sync as a role that may (GRANT DELETE ON dbsync.nodes TO {Identifiers.Quote(pg.UserName ?? "")};) releases them, the file this one was copied from is refused (DbSync.DuplicateNodeId); this file's changes are synced meanwhile.";
    }

    /// <summary>The node ids a reset-node without connection left for the file's next sync to release.</summary>
    internal static IReadOnlyList<string> PendingReleases(SqliteConnection sqlite) =>
        (CaptureStore.ReadMeta(sqlite, null, ReleaseKey) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>After PostgreSQL committed a run (which released them): the old ids need no release any more.</summary>
    internal static void ForgetPendingReleases(SqliteConnection sqlite, SqliteTransaction transaction) =>
        CaptureStore.Execute(sqlite, transaction, $"DELETE FROM _dbsync_meta WHERE key = '{ReleaseKey}'");

    /// <summary>True when the file made the run: it is the last committed run it recorded, or in its run history.</summary>
    /// <summary>The file recorded <paramref name="runId"/> as the last run PostgreSQL committed for it.</summary>
    private static bool RecordedLast(SqliteConnection sqlite, SqliteTransaction? transaction, Guid runId) =>
        CaptureStore.ReadMeta(sqlite, transaction, LastRunKey) is { } last && Guid.TryParse(last, out var recorded) && recorded == runId;

    private static bool Knows(SqliteConnection sqlite, SqliteTransaction? transaction, Guid runId) =>
        RecordedLast(sqlite, transaction, runId) || InRunLog(sqlite, transaction, runId);

    /// <summary>
    /// The file's run log holds <paramref name="runId"/> as a run that did not end recorded: one this file may have started
    /// and PostgreSQL committed, though the file never recorded it (killed, or the file could not be written, after the
    /// COMMIT). A run that ended Succeeded or PartiallySucceeded was recorded by the file that made it, which wrote it into
    /// its <c>last_run</c> in the same transaction: found here but not there, its entry came from a backup (restore-log)
    /// into a file older than that run (a backup restored over it) or into another file under the same id (a copy sharing
    /// the backup), and it passed for this file's own, whose changes up to that run's snapshot were then taken for
    /// applied and marked synced without being pushed (fleet exploration, F2). Unless it started before the file's
    /// <c>last_run</c>: then PostgreSQL lost the later commits (a crash with asynchronous commit, the target restored from
    /// an older dump), and the file, newer than PostgreSQL rather than older, goes on as before.
    /// </summary>
    private static bool StartedUnrecorded(SqliteConnection sqlite, Guid runId)
    {
        using var command = CaptureStore.Command(sqlite, null, $"""
            SELECT count(*) FROM _dbsync_runs AS r WHERE r.run_id = $id
                AND (r.status NOT IN ('{nameof(SyncStatus.Succeeded)}', '{nameof(SyncStatus.PartiallySucceeded)}')
                    OR NOT EXISTS (SELECT 1 FROM _dbsync_runs AS l WHERE l.run_id = (SELECT value FROM _dbsync_meta WHERE key = '{LastRunKey}') AND l.started_at < r.started_at))
            """);
        command.Parameters.AddWithValue("$id", runId.ToString());
        return (long)command.ExecuteScalar()! > 0;
    }

    private static bool InRunLog(SqliteConnection sqlite, SqliteTransaction? transaction, Guid runId)
    {
        using var command = CaptureStore.Command(sqlite, transaction, "SELECT count(*) FROM _dbsync_runs WHERE run_id = $id");
        command.Parameters.AddWithValue("$id", runId.ToString());
        return (long)command.ExecuteScalar()! > 0;
    }

    /// <summary>After PostgreSQL committed: remembers the run in the file (in the transaction that marks changes synced).</summary>
    internal static void RecordCommitted(SqliteConnection sqlite, SqliteTransaction transaction, Guid runId) =>
        CaptureStore.WriteMeta(sqlite, transaction, LastRunKey, runId.ToString());

    /// <summary>Gives the file a new node id; every table is copied in full on its next run.</summary>
    public static async Task<ResetNodeResult> ResetAsync(ResetNodeRequest request, CancellationToken cancellationToken)
    {
        var path = SourceDatabase.Validate(request.Path);
        using var runLock = await RunLock.AcquireAsync(path, request.LockTimeout, cancellationToken).ConfigureAwait(false);
        using var sqlite = SourceDatabase.OpenCancellable(path, request.BusyTimeout, cancellationToken);
        try
        {
            if (!RunLog.TableExists(sqlite, "_dbsync_meta"))
            {
                throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidOperation,
                    $"'{path}' has no DbSync identity to reset: capture was never enabled on it.", path);
            }

            using var transaction = sqlite.BeginTransaction(deferred: false);
            var previous = CaptureStore.ReadMeta(sqlite, transaction, "node_id");
            CaptureStore.EnsureBookkeeping(sqlite, transaction);
            var nodeId = Guid.NewGuid().ToString();
            CaptureStore.WriteMeta(sqlite, transaction, "node_id", nodeId);
            CaptureStore.Execute(sqlite, transaction, $"DELETE FROM _dbsync_meta WHERE key = '{LastRunKey}'");
            CaptureStore.Execute(sqlite, transaction, "UPDATE _dbsync_tables SET loaded = 0");
            HeldRows.Clear(sqlite, transaction);
            var tables = CaptureStore.ReadRegistry(sqlite, transaction).Values.Select(r => r.Name).OrderBy(n => n, StringComparer.Ordinal).ToList();
            var released = false;
            if (request.ConnectionString is not null && previous is not null)
            {
                // Before committing the new id: if PostgreSQL is wrong, nothing changes and the error says why.
                var builder = Target.TargetDatabase.ParseConnectionString(request.ConnectionString, request.Credential);
                try
                {
                    var pg = await Target.TargetDatabase.OpenAsync(builder, cancellationToken).ConfigureAwait(false);
                    await using (pg.ConfigureAwait(false))
                    {
                        released = await ReleaseAsync(pg, sqlite, transaction, previous, nodeId, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
                {
                    throw Target.TargetDatabase.Translate(ex, builder);
                }
            }

            if (request.ConnectionString is null && previous is not null)
            {
                // Without PostgreSQL at hand, the file's next sync releases the old id (see ReleasePendingAsync).
                var pending = CaptureStore.ReadMeta(sqlite, transaction, ReleaseKey);
                CaptureStore.WriteMeta(sqlite, transaction, ReleaseKey, pending is null ? previous : pending + "," + previous);
            }

            transaction.Commit();
            return new ResetNodeResult { Path = path, PreviousNodeId = previous, NodeId = nodeId, Tables = tables, Released = released };
        }
        catch (SqliteException ex)
        {
            throw SourceDatabase.Translate(ex, path, cancellationToken);
        }
    }
}
