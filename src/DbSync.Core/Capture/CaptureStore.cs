using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DbSync.Core.Schema;
using Microsoft.Data.Sqlite;

namespace DbSync.Core.Capture;

/// <summary>A table DbSync captures, as recorded in <c>_dbsync_tables</c>.</summary>
public sealed class RegisteredTable
{
    /// <summary>Internal id; names the change log <c>_dbsync_log_{Id}</c> and the triggers.</summary>
    public long Id { get; init; }

    /// <summary>Source table name.</summary>
    public required string Name { get; init; }

    /// <summary>Key columns when capture was installed, tab separated.</summary>
    public required string KeySignature { get; set; }

    /// <summary>Columns at the last successful sync (see <see cref="SourceTable.ColumnSignature"/>); empty before the first.</summary>
    public required string ColumnSignature { get; set; }

    /// <summary>True once the whole table reached PostgreSQL; until then the next sync copies it in full.</summary>
    public bool Loaded { get; set; }

    /// <summary>True when DbSync created the target table (its identity sequence is then DbSync's to advance).</summary>
    public bool TargetCreated { get; set; }

    /// <summary>A table as it would be registered, for read-only planning of a table capture has not reached yet.</summary>
    public static RegisteredTable Unregistered(SourceTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return new RegisteredTable { Name = table.Name, KeySignature = CaptureStore.KeySignatureOf(table), ColumnSignature = "" };
    }

    /// <summary>Number of key columns (names in the signature have their tabs escaped).</summary>
    public int KeyCount => KeySignature.Split('\t').Length;

    /// <summary>The change log's table name.</summary>
    public string LogTable => "_dbsync_log_" + Id.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The names of the capture triggers: after insert, update and delete, then the two that log the rows <c>OR
    /// REPLACE</c> removes through a UNIQUE index (before insert, before update), which exist only on a table with one.
    /// </summary>
    public IEnumerable<string> TriggerNames => new[] { "i", "u", "d", "ri", "ru" }.Select(s => $"_dbsync_{Id.ToString(CultureInfo.InvariantCulture)}_{s}");
}

/// <summary>
/// Everything DbSync keeps inside the SQLite file: <c>_dbsync_meta</c> (node id, schema version),
/// <c>_dbsync_tables</c> (registry), one <c>_dbsync_log_N</c> change log per captured table, filled by the
/// <c>_dbsync_N_i/u/d</c> triggers, and <c>_dbsync_runs</c> (run history).
/// </summary>
/// <remarks>
/// The triggers only append the changed row's key and the kind of change; coalescing happens at push time, where
/// it is cheap (about 1.3× insert cost instead of 2.2× for coalescing inside the trigger). Trigger bodies and table
/// definitions use only SQL that SQLite 3.6.19 (2009) parses, since every program opening the file must parse them:
/// no UPSERT, no JSON functions, no WITHOUT ROWID, no window functions.
/// </remarks>
public static class CaptureStore
{
    /// <summary>
    /// The version of DbSync's own tables that this build writes. Older files are upgraded in place by the first
    /// command that writes the bookkeeping (<see cref="EnsureBookkeeping"/>); a newer file is refused
    /// (<see cref="CheckNotNewer"/>).
    /// </summary>
    /// <remarks>
    /// Raise it with every change to the file's bookkeeping that an older build would misread: trigger text or
    /// trigger names, the format of <c>_dbsync_tables</c>' signatures, change log or run log columns, the
    /// <c>_dbsync_meta</c> keys a run relies on. The check is the only thing that stops an older build from acting on
    /// such a file, and it only refuses what carries a higher number. Version 2 stayed while triggers (<c>_ri</c>,
    /// <c>_ru</c>, NOCASE keys), the column signature's definition hash, the log's <c>entry</c> column and new meta keys
    /// were added, and older builds then misread those files instead of refusing them: a disable left triggers writing
    /// to a dropped log, a sync failed every table with a made-up column (upgrade exploration, F2 to F5). Version 3
    /// marks all of those.
    /// </remarks>
    public const int SchemaVersion = 3;

    /// <summary>Change kinds stored in the log's <c>op</c> column.</summary>
    public const int OpInsert = 1, OpUpdate = 2, OpDelete = 3;

    /// <summary>True when the file carries DbSync's bookkeeping.</summary>
    public static bool IsEnabled(SqliteConnection connection, SqliteTransaction? transaction = null) =>
        Scalar<long>(connection, transaction, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_dbsync_tables'") > 0;

    /// <summary>
    /// Creates or upgrades DbSync's tables and returns the node id. Must run inside a write transaction.
    /// </summary>
    public static string EnsureBookkeeping(SqliteConnection connection, SqliteTransaction transaction)
    {
        Execute(connection, transaction, """
            CREATE TABLE IF NOT EXISTS _dbsync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS _dbsync_tables (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                key_signature TEXT NOT NULL,
                column_signature TEXT NOT NULL DEFAULT '',
                loaded INTEGER NOT NULL DEFAULT 0,
                target_created INTEGER NOT NULL DEFAULT 0,
                enabled_at TEXT NOT NULL);
            """);
        Execute(connection, transaction, Bookkeeping.RunLog.CreateTableSql);
        // Version 2: rows held back (poison rows, conflicts left pending).
        Execute(connection, transaction, Conflicts.HeldRows.CreateTableSql);

        var current = CheckNotNewer(connection, transaction);

        // Upgrades go here, one step per version. Each step only adds.
        if (current < 2)
        {
            AddLogTimes(connection, transaction);
        }

        // Version 3 adds nothing here: what it marks (trigger text, signatures, the log's entry column) is brought up to
        // date table by table by Install and the planner, and the raised number keeps older builds out.
        if (current < SchemaVersion)
        {
            WriteMeta(connection, transaction, "schema_version", SchemaVersion.ToString(CultureInfo.InvariantCulture));
        }

        var nodeId = ReadMeta(connection, transaction, "node_id");
        if (nodeId is null)
        {
            nodeId = Guid.NewGuid().ToString();
            WriteMeta(connection, transaction, "node_id", nodeId);
            WriteMeta(connection, transaction, "created_at", DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        }

        return nodeId;
    }

    /// <summary>
    /// Version 1 (the first DbSync builds) made change logs without <c>at</c>, which status and the log's rebuild in
    /// <see cref="Install"/> read: every command then failed with SQLite's "no such column: at" and the pending changes
    /// could not be pushed (upgrade exploration, F6). The column is added empty (ALTER TABLE cannot add it with its
    /// CURRENT_TIMESTAMP default; Install's rebuild gives it that), the pending changes kept.
    /// </summary>
    private static void AddLogTimes(SqliteConnection connection, SqliteTransaction transaction)
    {
        var logs = new List<string>();
        using (var command = Command(connection, transaction, """
            SELECT m.name FROM _dbsync_tables AS t JOIN sqlite_master AS m ON m.type = 'table' AND m.name = '_dbsync_log_' || t.id
            WHERE NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'at')
            """))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                logs.Add(reader.GetString(0));
            }
        }

        foreach (var log in logs)
        {
            Execute(connection, transaction, $"ALTER TABLE {Identifiers.Quote(log)} ADD COLUMN at TEXT");
        }
    }

    /// <summary>
    /// The schema version of the file's DbSync tables (0 without any); throws when a newer DbSync wrote them, whose
    /// tables this one must neither write nor remove, since it does not know what they hold.
    /// </summary>
    /// <exception cref="DbSyncException">NewerSchemaVersion.</exception>
    public static int CheckNotNewer(SqliteConnection connection, SqliteTransaction? transaction)
    {
        var version = Scalar<long>(connection, transaction, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_dbsync_meta'") > 0
            ? ReadMeta(connection, transaction, "schema_version")
            : null;
        var current = version is null ? 0 : int.Parse(version, CultureInfo.InvariantCulture);
        return current > SchemaVersion
            ? throw new DbSyncException(ErrorIds.NewerSchemaVersion, DbSyncErrorCategory.InvalidOperation,
                $"This file's DbSync bookkeeping has schema version {current}, newer than this DbSync understands ({SchemaVersion}). Use a newer DbSync.")
            : current;
    }

    /// <summary>Reads a value from <c>_dbsync_meta</c>, or null.</summary>
    public static string? ReadMeta(SqliteConnection connection, SqliteTransaction? transaction, string key)
    {
        using var command = Command(connection, transaction, "SELECT value FROM _dbsync_meta WHERE key = $k");
        command.Parameters.AddWithValue("$k", key);
        return command.ExecuteScalar() as string;
    }

    internal static void WriteMeta(SqliteConnection connection, SqliteTransaction transaction, string key, string value)
    {
        using var command = Command(connection, transaction, "INSERT OR REPLACE INTO _dbsync_meta (key, value) VALUES ($k, $v)");
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$v", value);
        command.ExecuteNonQuery();
    }

    /// <summary>Reads the registry, keyed by table name (case-insensitive, as SQLite names are).</summary>
    public static Dictionary<string, RegisteredTable> ReadRegistry(SqliteConnection connection, SqliteTransaction? transaction)
    {
        var result = new Dictionary<string, RegisteredTable>(Identifiers.SqliteNames);
        using var command = Command(connection, transaction,
            "SELECT id, name, key_signature, column_signature, loaded, target_created FROM _dbsync_tables");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var table = new RegisteredTable
            {
                Id = reader.GetInt64(0),
                Name = reader.GetString(1),
                KeySignature = reader.GetString(2),
                ColumnSignature = reader.GetString(3),
                Loaded = reader.GetInt64(4) != 0,
                TargetCreated = reader.GetInt64(5) != 0,
            };
            result[table.Name] = table;
        }

        return result;
    }

    /// <summary>The key signature of a table: its key column names in key order.</summary>
    public static string KeySignatureOf(SourceTable table) => string.Join("\t", table.KeyColumns.Select(c => SourceTable.EscapeSignature(c.Name)));

    /// <summary>
    /// Installs capture on a table: registry row, change log and triggers. Idempotent: an installed table with
    /// intact triggers is left alone. DbSync triggers of another registration on the table (which a renamed table
    /// brings along) are dropped. Returns the registry entry and, for a table already loaded, a warning when
    /// changes may have been missed: its triggers had to be re-created (the table is then marked to be copied again in
    /// full), or a UNIQUE index's REPLACE removals were not captured until now.
    /// </summary>
    public static (RegisteredTable Table, string? Warning) Install(SqliteConnection connection, SqliteTransaction transaction,
        SourceTable table, RegisteredTable? existing)
    {
        ArgumentNullException.ThrowIfNull(table);
        var registered = existing;
        if (registered is null)
        {
            using var insert = Command(connection, transaction,
                "INSERT INTO _dbsync_tables (name, key_signature, enabled_at) VALUES ($n, $k, $t); SELECT last_insert_rowid();");
            insert.Parameters.AddWithValue("$n", table.Name);
            insert.Parameters.AddWithValue("$k", KeySignatureOf(table));
            insert.Parameters.AddWithValue("$t", DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            var id = (long)insert.ExecuteScalar()!;
            registered = new RegisteredTable { Id = id, Name = table.Name, KeySignature = KeySignatureOf(table), ColumnSignature = "" };
        }

        var keyColumns = Enumerable.Range(1, table.KeyColumns.Count).Select(i => "k" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        // Key columns without a declared type have no affinity: the log keeps each key value exactly as stored.
        // `at` (UTC, to the second) tells status how old the oldest pending change is; the triggers never name it.
        // `entry`, a random number per change, tells one change from another under the same seq: numbers restart after a
        // sync empties the log, and a copy numbers its own changes as the original does, so a seq alone said nothing of
        // which change an unrecorded run read (fleet exploration, F1 and F2). The triggers never name it either.
        var log = Identifiers.Quote(registered.LogTable);
        var definition = $"(seq INTEGER PRIMARY KEY, op INTEGER NOT NULL, {string.Join(", ", keyColumns)}, at TEXT DEFAULT CURRENT_TIMESTAMP, {EntryColumn} INTEGER DEFAULT (random()))";
        Execute(connection, transaction, $"CREATE TABLE IF NOT EXISTS {log} {definition}");
        if (Scalar<long>(connection, transaction, $"SELECT count(*) FROM pragma_table_info('{registered.LogTable}') WHERE name = '{EntryColumn}'") == 0)
        {
            // A log an earlier DbSync made. ALTER TABLE cannot add a column whose default is random(), so the log is made
            // again under its name, its pending changes kept as they are (each gets its number), in this transaction: no
            // change can come between. The triggers name the log, not its columns, and stay.
            var columns = $"seq, op, {string.Join(", ", keyColumns)}, at";
            Execute(connection, transaction, $"""
                DROP TABLE IF EXISTS temp._dbsync_log_upgrade;
                CREATE TEMP TABLE _dbsync_log_upgrade AS SELECT {columns} FROM {log};
                DROP TABLE {log};
                CREATE TABLE {log} {definition};
                INSERT INTO {log} ({columns}) SELECT {columns} FROM temp._dbsync_log_upgrade;
                DROP TABLE temp._dbsync_log_upgrade;
                """);
        }

        var (expected, actual, stale) = TriggerState(connection, transaction, table, registered);
        // Behind an application's trigger, DbSync's are made again, unchanged, so that they fire first (FireBehind).
        var behind = FireBehind(connection, transaction, table, registered);
        bool Same((string Name, string Sql) trigger) => !behind && IsInstalled(actual, trigger);
        if (!behind && !NeedInstall(expected, actual, stale))
        {
            return (registered, null);
        }

        foreach (var name in stale)
        {
            Execute(connection, transaction, $"DROP TRIGGER IF EXISTS {Identifiers.Quote(name)}");
        }

        foreach (var (name, sql) in expected.Where(e => !Same(e)))
        {
            Execute(connection, transaction, $"DROP TRIGGER IF EXISTS {Identifiers.Quote(name)}");
            Execute(connection, transaction, sql);
        }

        if (existing is null || !existing.Loaded)
        {
            return (registered, null);
        }

        (RegisteredTable, string) CopyAgain(string why)
        {
            registered.Loaded = false;
            using var update = Command(connection, transaction, "UPDATE _dbsync_tables SET loaded = 0 WHERE id = $id");
            update.Parameters.AddWithValue("$id", registered.Id);
            update.ExecuteNonQuery();
            return (registered, why);
        }

        if (!CaptureIntact(actual, registered, table))
        {
            return CopyAgain($"Capture triggers on '{table.Name}' were missing or altered; changes made meanwhile may not have been captured, so the table is copied again in full.");
        }

        if (KeyChangesLoggedAsUpdates(connection, transaction, actual, registered, table))
        {
            return CopyAgain($"Table '{table.Name}': changes an earlier DbSync's update trigger logged are pending, and that trigger logged a changed primary key "
                + "as an update of the new key alone (under a NOCASE or RTRIM key, one changed in its case or trailing spaces only: 'bob' to 'Bob'), which the push "
                + "would take for a row deleted in PostgreSQL. The trigger is replaced and the table copied again in full, which also deletes there the old keys this node wrote.");
        }

        // The insert, update and delete triggers captured every change; only the rows REPLACE removes through a UNIQUE
        // index that no trigger covered (a new index, or a file enabled by a DbSync without these triggers) may be missing.
        actual.TryGetValue(registered.TriggerNames.ElementAt(3), out var covered);
        // So may those UPDATE OR REPLACE removed through a partial index by changing a column of its WHERE only, which
        // the update trigger of an earlier DbSync did not fire for: its match did not hold the WHERE either.
        actual.TryGetValue(registered.TriggerNames.ElementAt(4), out var updateCovered);
        var uncovered = table.UniqueKeys.Where(u => covered is null || !covered.Contains(UniqueMatch(u), StringComparison.Ordinal)
            || updateCovered is null || !updateCovered.Contains(UniqueMatch(u), StringComparison.Ordinal)).ToList();
        return (registered, uncovered.Count == 0 ? null
            : $"Table '{table.Name}': from this run on, the rows that INSERT OR REPLACE or UPDATE OR REPLACE remove because they conflict on "
                + string.Join(", ", uncovered.Select(u => u.Description))
                + " are captured; a row removed that way before (the index is new, or the file was enabled by an earlier DbSync) stays in PostgreSQL until a --resync of this table.");
    }

    /// <summary>
    /// True when the update trigger <see cref="Install"/> is replacing is an earlier DbSync's that logged some key changes
    /// as an update of the new key alone, and the change log holds an entry it may have logged so. The push reads such
    /// an update as a change to a row PostgreSQL should have: it has not (a false DeletedInTarget, which under TargetWins
    /// deleted the row from the file), and the old key would stay there. DbSync 0.1's trigger logged every key change so,
    /// right after the old key's delete; the next one a change its key column's collation does not see ('bob' to 'Bob'
    /// under NOCASE, 'a' to 'a ' under RTRIM), whose old spelling it never logged, so any pending update may be one.
    /// </summary>
    /// <remarks>
    /// The old spelling is in no log: translating the entries would take a search of PostgreSQL by the key's collation.
    /// The table's full copy removes there the rows this node wrote that the file no longer has, and is done once.
    /// </remarks>
    private static bool KeyChangesLoggedAsUpdates(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyDictionary<string, string> actual,
        RegisteredTable registered, SourceTable table)
    {
        bool Was(TriggerForm form) => IsInstalled(actual, TriggerSql(registered, table, form)[1]);
        var log = Identifiers.Quote(registered.LogTable);
        // The trigger compared OLD and NEW under each key column's own collation (not the key index's); a rowid is an integer.
        if ((Was(TriggerForm.KeyChangeAsUpdate) || Was(TriggerForm.KeyComparedByCollation)) && !table.KeyIsRowid
            && table.KeyColumns.Any(c => !IsBinary(connection, table.Name, c.Name)))
        {
            return Scalar<long>(connection, transaction, $"SELECT EXISTS (SELECT 1 FROM {log} WHERE op = {OpUpdate})") == 1;
        }

        return Was(TriggerForm.KeyChangeAsUpdate) && Scalar<long>(connection, transaction,
            $"SELECT EXISTS (SELECT 1 FROM {log} AS u JOIN {log} AS d ON d.seq = u.seq - 1 WHERE u.op = {OpUpdate} AND d.op = {OpDelete})") == 1;
    }

    /// <summary>True when a column is known to compare under BINARY, its declared collation (sqlite3_table_column_metadata).</summary>
    private static bool IsBinary(SqliteConnection connection, string table, string column) =>
        SQLitePCL.raw.sqlite3_table_column_metadata(connection.Handle, "main", table, column, out _, out var collation, out _, out _, out _) == SQLitePCL.raw.SQLITE_OK
            && string.Equals(collation, "BINARY", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// True when a table's insert, update and delete triggers are DbSync's, as this DbSync makes them or as an earlier
    /// one did (same names, every change captured: <see cref="Install"/> upgrades them in place, without copying the
    /// table again). False when one is missing or altered, so changes may have gone uncaptured.
    /// </summary>
    internal static bool CaptureIntact(IReadOnlyDictionary<string, string> actual, RegisteredTable registered, SourceTable table) =>
        Enum.GetValues<TriggerForm>().Any(form => TriggerSql(registered, table, form).Take(3).All(t => IsInstalled(actual, t)));

    /// <summary>
    /// True when <see cref="Install"/> would change a registered table's triggers: one is missing or altered (the table
    /// was rebuilt, or dropped and created again), one is left over, or a unique index needs its REPLACE triggers. Reads only.
    /// </summary>
    internal static bool TriggersNeedInstall(SqliteConnection connection, SqliteTransaction? transaction, SourceTable table, RegisteredTable registered)
    {
        var (expected, actual, stale) = TriggerState(connection, transaction, table, registered);
        return NeedInstall(expected, actual, stale) || FireBehind(connection, transaction, table, registered);
    }

    /// <summary>
    /// True when an application's trigger on the table was created after one of DbSync's (its row in sqlite_master comes
    /// later), so fires before it: SQLite fires a table's triggers newest first (it loads them in sqlite_master's order,
    /// each put first; VACUUM keeps that order). Such a trigger's writes to the same row were logged before the change
    /// that fired them (capture2 exploration, F1), and its RAISE(IGNORE) skipped DbSync's trigger. <see cref="Install"/>
    /// then makes DbSync's triggers again, as they are, inside its write transaction (no write can come between the drop
    /// and the create), which puts them last in sqlite_master: from then on they fire first. Their changes were all
    /// captured, so nothing is copied again.
    /// </summary>
    private static bool FireBehind(SqliteConnection connection, SqliteTransaction? transaction, SourceTable table, RegisteredTable registered)
    {
        var names = registered.TriggerNames.ToList();
        // tbl_name is the table's name as the CREATE TRIGGER spelled it; SQLite matches names case-insensitively (ASCII).
        using var read = Command(connection, transaction, $"""
            SELECT count(*) FROM sqlite_master
            WHERE type = 'trigger' AND tbl_name = $t COLLATE NOCASE AND name NOT LIKE '\_dbsync\_%' ESCAPE '\'
                AND rowid > (SELECT min(rowid) FROM sqlite_master WHERE type = 'trigger' AND name IN ({string.Join(", ", names.Select((_, i) => $"$n{i}"))}))
            """);
        read.Parameters.AddWithValue("$t", table.Name);
        for (var i = 0; i < names.Count; i++)
        {
            read.Parameters.AddWithValue($"$n{i}", names[i]);
        }

        return (long)read.ExecuteScalar()! > 0;
    }

    private static bool NeedInstall(IReadOnlyList<(string Name, string Sql)> expected, IReadOnlyDictionary<string, string> actual, List<string> stale) =>
        stale.Count > 0 || !expected.All(e => IsInstalled(actual, e));

    /// <summary>True when <paramref name="actual"/> (trigger name to CREATE statement) holds the trigger exactly as <see cref="TriggerSql"/> makes it.</summary>
    internal static bool IsInstalled(IReadOnlyDictionary<string, string> actual, (string Name, string Sql) trigger) =>
        actual.TryGetValue(trigger.Name, out var sql) && sql == trigger.Sql;

    /// <summary>A table's capture triggers as they should be, the triggers it has, and those of its triggers that must go.</summary>
    private static (IReadOnlyList<(string Name, string Sql)> Expected, Dictionary<string, string> Actual, List<string> Stale) TriggerState(
        SqliteConnection connection, SqliteTransaction? transaction, SourceTable table, RegisteredTable registered)
    {
        var expected = TriggerSql(registered, table);
        var actual = ReadTriggers(connection, transaction, table.Name);
        // A REPLACE trigger left from a UNIQUE index since dropped only logs more than needed: it goes, without a copy.
        // So do another registration's triggers: SQLite moves triggers with a renamed table (ALTER TABLE a RENAME TO b),
        // and a's would log every write to b into a's log as well, which no run empties.
        var stale = registered.TriggerNames.Skip(3).Where(n => actual.ContainsKey(n) && expected.All(e => e.Name != n))
            .Concat(ForeignTriggers(actual.Keys, registered.Id)).ToList();
        return (expected, actual, stale);
    }

    /// <summary>The triggers on a table, name to CREATE statement.</summary>
    private static Dictionary<string, string> ReadTriggers(SqliteConnection connection, SqliteTransaction? transaction, string table)
    {
        var triggers = new Dictionary<string, string>(StringComparer.Ordinal);
        using var read = Command(connection, transaction, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $t");
        read.Parameters.AddWithValue("$t", table);
        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            triggers[reader.GetString(0)] = reader.IsDBNull(1) ? "" : reader.GetString(1);
        }

        return triggers;
    }

    /// <summary>The tables on which any of these triggers are, by name.</summary>
    internal static IReadOnlyList<string> TablesWithTriggers(SqliteConnection connection, SqliteTransaction? transaction, IEnumerable<string> triggers)
    {
        var names = triggers.ToList();
        using var read = Command(connection, transaction,
            $"SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name IN ({string.Join(", ", names.Select((_, i) => $"$t{i}"))}) ORDER BY tbl_name");
        for (var i = 0; i < names.Count; i++)
        {
            read.Parameters.AddWithValue($"$t{i}", names[i]);
        }

        using var reader = read.ExecuteReader();
        var tables = new List<string>();
        while (reader.Read())
        {
            tables.Add(reader.GetString(0));
        }

        return tables;
    }

    /// <summary>Of <paramref name="names"/>, the capture triggers (<c>_dbsync_N_*</c>) of a registration other than <paramref name="id"/>.</summary>
    internal static IEnumerable<string> ForeignTriggers(IEnumerable<string> names, long id) => names.Where(name =>
    {
        const string prefix = "_dbsync_";
        if (!name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var end = name.IndexOf('_', prefix.Length);
        return end > prefix.Length
            && long.TryParse(name.AsSpan(prefix.Length, end - prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var owner)
            && owner != id;
    });

    /// <summary>
    /// The condition a REPLACE trigger uses to find the rows that conflict with NEW on one unique index: equal on its
    /// columns in its collations and, for a partial index, in the index (its WHERE holds; which also lets SQLite search
    /// the index). The WHERE ends on a line of its own, since it may end in a -- comment.
    /// </summary>
    private static string UniqueMatch(UniqueKey unique) =>
        "(" + string.Join(" AND ", unique.Columns.Select(c => $"{Identifiers.Quote(c.Name)} = NEW.{Identifiers.Quote(c.Name)} COLLATE {Identifiers.Quote(c.Collation)}"))
            + (unique.Where is null ? "" : $" AND ({unique.Where}\n)") + ")";

    /// <summary>The exact CREATE TRIGGER statements for a table, as sqlite_master stores them.</summary>
    /// <remarks>
    /// An earlier <paramref name="form"/> gives the statements an earlier DbSync installed. They captured every change
    /// all the same, so such triggers are replaced in place, without copying the table again.
    /// </remarks>
    public static IReadOnlyList<(string Name, string Sql)> TriggerSql(RegisteredTable registered, SourceTable table, TriggerForm form = TriggerForm.Current)
    {
        ArgumentNullException.ThrowIfNull(registered);
        ArgumentNullException.ThrowIfNull(table);
        var names = registered.TriggerNames.ToList();
        var log = Identifiers.Quote(registered.LogTable);
        var target = Identifiers.Quote(table.Name);
        var keyList = string.Join(", ", Enumerable.Range(1, table.KeyColumns.Count).Select(i => "k" + i.ToString(CultureInfo.InvariantCulture)));
        string Values(string row) => string.Join(", ", table.KeyColumns.Select(c => row + "." + Identifiers.Quote(c.Name)));
        var asInVersion01 = form == TriggerForm.KeyChangeAsUpdate;
        // A key changed exactly, not through the column's collation: an update of a COLLATE NOCASE (or RTRIM) key from
        // 'bob' to 'Bob' (or 'a' to 'a ') is one key to SQLite but two to PostgreSQL, which compares exactly; logged as
        // an update of 'Bob', it left 'bob' in PostgreSQL beside the new row. A rowid key is an integer: no collation.
        var exactly = table.KeyIsRowid || form != TriggerForm.Current ? "" : " COLLATE BINARY";
        var keyChanged = string.Join(" OR ", table.KeyColumns.Select(c => $"OLD.{Identifiers.Quote(c.Name)} IS NOT NEW.{Identifiers.Quote(c.Name)}{exactly}"));
        var triggers = new List<(string Name, string Sql)>
        {
            (names[0], $"CREATE TRIGGER {Identifiers.Quote(names[0])} AFTER INSERT ON {target} BEGIN INSERT INTO {log} (op, {keyList}) VALUES ({OpInsert}, {Values("NEW")}); END"),
            // A key change is the old key deleted and the new key inserted: for PostgreSQL the new key is a new row, not
            // an update of one that should be there (which, missing, would be a conflict).
            (names[1], $"CREATE TRIGGER {Identifiers.Quote(names[1])} AFTER UPDATE ON {target} BEGIN INSERT INTO {log} (op, {keyList}) SELECT {OpDelete}, {Values("OLD")} WHERE {keyChanged}; INSERT INTO {log} (op, {keyList}) VALUES ({(asInVersion01 ? OpUpdate.ToString(CultureInfo.InvariantCulture) : $"CASE WHEN {keyChanged} THEN {OpInsert} ELSE {OpUpdate} END")}, {Values("NEW")}); END"),
            (names[2], $"CREATE TRIGGER {Identifiers.Quote(names[2])} AFTER DELETE ON {target} BEGIN INSERT INTO {log} (op, {keyList}) VALUES ({OpDelete}, {Values("OLD")}); END"),
        };
        if (table.UniqueKeys.Count == 0 || asInVersion01)
        {
            return triggers;
        }

        // INSERT OR REPLACE and UPDATE OR REPLACE delete the rows that conflict on a UNIQUE index without firing delete
        // triggers (unless recursive_triggers is on). Before each write, the rows holding the new values on a unique
        // index are logged as possibly changed: the run reads them as they are then, pushing a delete for the ones
        // REPLACE removed and nothing for a row that is still there unchanged (INSERT OR IGNORE, ON CONFLICT DO NOTHING).
        var conflicting = string.Join(" OR ", table.UniqueKeys.Select(UniqueMatch).Distinct(StringComparer.Ordinal));
        var keyColumns = string.Join(", ", table.KeyColumns.Select(c => Identifiers.Quote(c.Name)));
        var notOld = string.Join(" AND ", table.KeyColumns.Select(c => $"{Identifiers.Quote(c.Name)} IS OLD.{Identifiers.Quote(c.Name)}"));
        // An update matters when it changes a key's column, or a column of a partial index's WHERE (setting active = 1
        // puts the row into the index, and REPLACE removes the row already there). It fires on every update when one of
        // those is generated (no statement sets it; its own columns change it) or a WHERE reads the rowid.
        var ofColumns = table.UniqueKeys.SelectMany(u => u.Columns.Select(c => c.Name).Concat(u.WhereColumns))
            .Select(n => table.Columns.FirstOrDefault(c => Identifiers.SqliteNames.Equals(c.Name, n))?.Name ?? n).Distinct(StringComparer.Ordinal).ToList();
        var everyUpdate = table.UniqueKeys.Any(u => u.WhereReadsRowid) || ofColumns.Any(n => table.Columns.Any(c => c.Generated && c.Name == n));
        var of = everyUpdate ? "" : $" OF {string.Join(", ", ofColumns.Select(Identifiers.Quote))}";
        triggers.Add((names[3], $"CREATE TRIGGER {Identifiers.Quote(names[3])} BEFORE INSERT ON {target} BEGIN INSERT INTO {log} (op, {keyList}) SELECT {OpUpdate}, {keyColumns} FROM {target} WHERE {conflicting}; END"));
        triggers.Add((names[4], $"CREATE TRIGGER {Identifiers.Quote(names[4])} BEFORE UPDATE{of} ON {target} BEGIN INSERT INTO {log} (op, {keyList}) SELECT {OpUpdate}, {keyColumns} FROM {target} WHERE ({conflicting}) AND NOT ({notOld}); END"));
        return triggers;
    }

    /// <summary>Removes capture from one table: its triggers, change log and registry row.</summary>
    public static void Uninstall(SqliteConnection connection, SqliteTransaction transaction, RegisteredTable registered)
    {
        ArgumentNullException.ThrowIfNull(registered);
        // Every trigger of this table's prefix, not only the names this build knows: a later DbSync may have added one,
        // and a trigger left writing to the dropped log would make every write to the table fail.
        var names = new List<string>(registered.TriggerNames);
        using (var read = Command(connection, transaction, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name GLOB $p"))
        {
            read.Parameters.AddWithValue("$p", $"_dbsync_{registered.Id.ToString(CultureInfo.InvariantCulture)}_*");
            using var reader = read.ExecuteReader();
            while (reader.Read())
            {
                names.Add(reader.GetString(0));
            }
        }

        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            Execute(connection, transaction, $"DROP TRIGGER IF EXISTS {Identifiers.Quote(name)}");
        }

        Execute(connection, transaction, $"DROP TABLE IF EXISTS {Identifiers.Quote(registered.LogTable)}");
        using var delete = Command(connection, transaction, "DELETE FROM _dbsync_tables WHERE id = $id");
        delete.Parameters.AddWithValue("$id", registered.Id);
        delete.ExecuteNonQuery();
    }

    /// <summary>The highest change sequence number of a table's log, 0 when empty.</summary>
    public static long MaxSequence(SqliteConnection connection, SqliteTransaction? transaction, RegisteredTable registered) =>
        Scalar<long>(connection, transaction, MaxSequenceSql(registered));

    /// <summary>The change log's column holding each change's random number (see <see cref="Install"/>).</summary>
    internal const string EntryColumn = "entry";

    /// <summary>
    /// 1 when the change log still holds the change with sequence number <paramref name="sequence"/>, and, when
    /// <paramref name="entry"/> is known, that very change (its random number), else 0.
    /// </summary>
    public static string HoldsSequenceSql(RegisteredTable registered, long sequence, long? entry = null)
    {
        ArgumentNullException.ThrowIfNull(registered);
        return string.Create(CultureInfo.InvariantCulture, $"SELECT count(*) FROM {Identifiers.Quote(registered.LogTable)} WHERE seq = {sequence}")
            + (entry is { } number ? string.Create(CultureInfo.InvariantCulture, $" AND {EntryColumn} = {number}") : "");
    }

    /// <summary>The random number of the change with sequence number <paramref name="sequence"/>; 0 when there is none.</summary>
    public static string EntrySql(RegisteredTable registered, long sequence)
    {
        ArgumentNullException.ThrowIfNull(registered);
        return string.Create(CultureInfo.InvariantCulture, $"SELECT coalesce(max({EntryColumn}), 0) FROM {Identifiers.Quote(registered.LogTable)} WHERE seq = {sequence}");
    }

    /// <summary>The query behind <see cref="MaxSequence"/>.</summary>
    public static string MaxSequenceSql(RegisteredTable registered)
    {
        ArgumentNullException.ThrowIfNull(registered);
        return $"SELECT coalesce(max(seq), 0) FROM {Identifiers.Quote(registered.LogTable)}";
    }

    /// <summary>Distinct rows waiting to be pushed for one table.</summary>
    /// <remarks>
    /// Reads inside <paramref name="transaction"/>, or inside a read transaction of its own when it is null, so the
    /// count is of one snapshot of the log. Changes nothing.
    /// </remarks>
    public static long PendingRows(SqliteConnection connection, SqliteTransaction? transaction, RegisteredTable registered)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(registered);
        // The log's key columns are those capture began with, whatever the table's key is now (a rebuild may change it).
        var keyCount = registered.KeyCount;
        using var own = transaction is null ? connection.BeginTransaction(deferred: true) : null;
        var read = transaction ?? own;
        var log = Identifiers.Quote(registered.LogTable);
        if (keyCount == 1 && DistinctIntegerKeys(connection, read, log) is { } integers)
        {
            return integers;
        }

        var keys = string.Join(", ", Enumerable.Range(1, keyCount).Select(i => "k" + i.ToString(CultureInfo.InvariantCulture)));
        // count(DISTINCT) is about a fifth faster than grouping when the key is one column.
        return Scalar<long>(connection, read, keyCount == 1
            ? $"SELECT count(DISTINCT k1) FROM {log}"
            : $"SELECT count(*) FROM (SELECT 1 FROM {log} GROUP BY {keys})");
    }

    /// <summary>Log rows read per statement by <see cref="DistinctIntegerKeys"/>, which bounds the text held at once.</summary>
    private const int KeyChunk = 65_536;

    /// <summary>
    /// Past this many keys held one by one (out of order, about 20 bytes each), <see cref="DistinctIntegerKeys"/>
    /// gives up for SQLite's count(DISTINCT), which spills to disk instead of holding them in memory.
    /// </summary>
    private const int MaxKeysHeld = 2_000_000;

    /// <summary>
    /// count(DISTINCT k1) of a one-column-key log whose keys are all integers (or NULL, which count(DISTINCT) skips
    /// too), counted here instead of in SQLite's temporary b-tree, which is slow to fill and spills to disk. Null when a
    /// key is anything else (REAL, TEXT, BLOB) or too many are out of order, which the caller then counts with SQL.
    /// Must run inside a transaction: the log is read in several statements.
    /// </summary>
    /// <remarks>
    /// SQLite hands over each chunk of keys, in log order, as one text (group_concat): a key that is TEXT or BLOB
    /// (both sort after every number, so <c>k1 &gt;= ''</c> is true for them alone) becomes '?', a REAL prints with a
    /// '.' or as Inf, and either stops the parse. One string per chunk instead of a step per row is what makes this
    /// cheaper than count(DISTINCT). A long log is read in two halves at once when a second connection can read the
    /// same snapshot (<see cref="SecondReader"/>).
    /// </remarks>
    private static long? DistinctIntegerKeys(SqliteConnection connection, SqliteTransaction? transaction, string log)
    {
        long low, high;
        // Two subqueries: SQLite seeks to either end of the rowid only for a lone min() or max().
        using (var range = Command(connection, transaction, $"SELECT (SELECT min(seq) FROM {log}), (SELECT max(seq) FROM {log})"))
        using (var reader = range.ExecuteReader())
        {
            reader.Read();
            if (reader.IsDBNull(0))
            {
                return 0;
            }

            (low, high) = (reader.GetInt64(0), reader.GetInt64(1));
        }

        var span = unchecked((ulong)(high - low));
        if (span < 2 * KeyChunk || SecondReader(connection, transaction) is not var (second, secondTransaction))
        {
            return ReadKeys(connection, transaction, log, low, high, MaxKeysHeld, CancellationToken.None)?.Count;
        }

        using (second)
        using (secondTransaction)
        using (var stop = new CancellationTokenSource())
        {
            var middle = unchecked(low + (long)(span / 2));
            // A thread of its own, not one of the pool's: this one blocks until it is done.
            var upper = Task.Factory.StartNew(() => ReadKeys(second, secondTransaction, log, middle + 1, high, MaxKeysHeld / 2, stop.Token),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            DistinctIntegers? lower = null;
            try
            {
                lower = ReadKeys(connection, transaction, log, low, middle, MaxKeysHeld / 2, stop.Token);
            }
            finally
            {
                if (lower is null)
                {
                    stop.Cancel();
                }

                // The second connection must be done before it is closed, whatever happened here.
                ((IAsyncResult)upper).AsyncWaitHandle.WaitOne();
            }

            var higher = upper.GetAwaiter().GetResult();
            return lower is null || higher is null ? null : DistinctIntegers.UnionCount(lower, higher);
        }
    }

    /// <summary>Counts the keys of the log rows with seq from <paramref name="from"/> to <paramref name="to"/>, chunk by chunk.</summary>
    private static DistinctIntegers? ReadKeys(SqliteConnection connection, SqliteTransaction? transaction, string log, long from, long to, int maxHeld,
        CancellationToken stop)
    {
        using var next = Command(connection, transaction, $"SELECT min(seq) FROM {log} WHERE seq BETWEEN $from AND $to");
        var start = next.Parameters.AddWithValue("$from", from);
        next.Parameters.AddWithValue("$to", to);
        var sql = $"SELECT group_concat(CASE WHEN k1 >= '' THEN '?' ELSE k1 END) FROM {log} WHERE seq BETWEEN $first AND $last";
        var keys = new DistinctIntegers();
        // Each chunk starts at the first row after the last chunk's range, so gaps in seq cost nothing.
        while (next.ExecuteScalar() is long first)
        {
            var last = unchecked((ulong)(to - first)) < KeyChunk - 1 ? to : first + (KeyChunk - 1);
            using (var chunk = Source.SourceRows.Open(connection, sql, ("$first", first), ("$last", last)))
            {
                chunk.Read();
                if ((chunk.Storage(0) != Target.StorageClass.Null && !keys.AddAll(chunk.Utf8(0))) || keys.Held > maxHeld || stop.IsCancellationRequested)
                {
                    return null;
                }
            }

            if (last == to)
            {
                break;
            }

            start.Value = last + 1;
        }

        return keys;
    }

    /// <summary>
    /// A second, read-only connection in a read transaction on exactly the snapshot <paramref name="connection"/>
    /// reads, or null when that cannot be had at once. Only for a query_only connection (status), whose transaction
    /// cannot hold changes of its own that the second connection would not see.
    /// </summary>
    /// <remarks>
    /// In WAL mode the second connection opens the first one's snapshot (sqlite3_snapshot_open). With a rollback
    /// journal the first connection's read lock (SHARED) keeps any writer from committing, so whatever the second
    /// connection reads is what the first one would; it does not wait for its own lock, which a writer already waiting
    /// to commit withholds.
    /// </remarks>
    private static (SqliteConnection, SqliteTransaction)? SecondReader(SqliteConnection connection, SqliteTransaction? transaction)
    {
        var path = SQLitePCL.raw.sqlite3_db_filename(connection.Handle, "main").utf8_to_string();
        if (Environment.ProcessorCount < 2 || string.IsNullOrEmpty(path) || Scalar<long>(connection, transaction, "PRAGMA query_only") != 1)
        {
            return null;
        }

        SQLitePCL.sqlite3_snapshot? snapshot = null;
        var wal = string.Equals(Scalar<string>(connection, transaction, "PRAGMA journal_mode"), "wal", StringComparison.OrdinalIgnoreCase);
        if (wal && SQLitePCL.raw.sqlite3_snapshot_get(connection.Handle, "main", out snapshot) != SQLitePCL.raw.SQLITE_OK)
        {
            snapshot?.Dispose();
            return null;
        }

        var second = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false, DefaultTimeout = 1,
        }.ToString());
        SqliteTransaction? secondTransaction = null;
        try
        {
            second.Open();
            // Reads through SQLite's own API, which does not wait: a lock not granted at once means a writer is about to
            // commit (and waits for this status), so the count goes on alone. The first read lets the connection see the
            // WAL, without which it cannot open a snapshot; the second takes the read lock for the transaction.
            const string read = "SELECT count(*) FROM sqlite_master";
            if (SQLitePCL.raw.sqlite3_exec(second.Handle, read) == SQLitePCL.raw.SQLITE_OK)
            {
                secondTransaction = second.BeginTransaction(deferred: true);
                if ((!wal || SQLitePCL.raw.sqlite3_snapshot_open(second.Handle, "main", snapshot) == SQLitePCL.raw.SQLITE_OK)
                    && SQLitePCL.raw.sqlite3_exec(second.Handle, read) == SQLitePCL.raw.SQLITE_OK)
                {
                    return (second, secondTransaction);
                }
            }

            secondTransaction?.Dispose();
            second.Dispose();
            return null;
        }
        catch (SqliteException)
        {
            secondTransaction?.Dispose();
            second.Dispose();
            return null;
        }
        finally
        {
            snapshot?.Dispose();
        }
    }

    /// <summary>
    /// An exact count of distinct 64-bit integers, cheap when they come mostly in ascending order, as the log of a
    /// table filled under an increasing key does: every number above all seen so far extends or adds a run
    /// (ascending, disjoint ranges); only numbers at or below the highest seen are looked up in the runs and, when not
    /// there, kept in a hash set. Runs and set never overlap, so the count is runs' sizes plus the set's.
    /// </summary>
    private sealed class DistinctIntegers
    {
        private readonly List<(long Low, long High)> _runs = [];
        private readonly HashSet<long> _others = [];

        public long Count { get; private set; }

        /// <summary>Runs and single numbers kept, about 20 bytes each.</summary>
        public int Held => _runs.Count + _others.Count;

        /// <summary>Adds comma-separated decimal integers; false at anything else (the numbers before it are added).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs a few times per process: no time to tier up
        public bool AddAll(ReadOnlySpan<byte> text)
        {
            var i = 0;
            while (true)
            {
                var negative = i < text.Length && text[i] == (byte)'-';
                if (negative)
                {
                    i++;
                }

                var start = i;
                ulong magnitude = 0;
                while (i < text.Length && (uint)(text[i] - '0') <= 9)
                {
                    if (magnitude > (ulong.MaxValue - 9) / 10)
                    {
                        return false;
                    }

                    magnitude = magnitude * 10 + (uint)(text[i] - '0');
                    i++;
                }

                if (i == start || magnitude > (negative ? 1UL << 63 : long.MaxValue))
                {
                    return false;
                }

                Add(negative ? (long)(0UL - magnitude) : (long)magnitude);
                if (i == text.Length)
                {
                    return true;
                }

                if (text[i] != (byte)',')
                {
                    return false;
                }

                i++;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Add(long value)
        {
            var last = _runs.Count - 1;
            if (last < 0 || value > _runs[last].High)
            {
                if (last >= 0 && value == _runs[last].High + 1)
                {
                    _runs[last] = (_runs[last].Low, value);
                }
                else
                {
                    _runs.Add((value, value));
                }

                Count++;
            }
            else if (!InRuns(value) && _others.Add(value))
            {
                Count++;
            }
        }

        /// <summary>How many distinct numbers two counts saw together: both counts less those both saw.</summary>
        /// <remarks>Each side's numbers are its runs and its set, which never overlap, so the common ones are four disjoint parts.</remarks>
        public static long UnionCount(DistinctIntegers a, DistinctIntegers b)
        {
            long common = 0;
            var (i, j) = (0, 0);
            while (i < a._runs.Count && j < b._runs.Count)
            {
                var (x, y) = (a._runs[i], b._runs[j]);
                var (low, high) = (Math.Max(x.Low, y.Low), Math.Min(x.High, y.High));
                if (low <= high)
                {
                    common += high - low + 1;
                }

                if (x.High < y.High)
                {
                    i++;
                }
                else
                {
                    j++;
                }
            }

            common += b._others.Count(a.InRuns) + a._others.Count(b.InRuns);
            var (smaller, larger) = a._others.Count <= b._others.Count ? (a._others, b._others) : (b._others, a._others);
            common += smaller.Count(larger.Contains);
            return a.Count + b.Count - common;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private bool InRuns(long value)
        {
            var runs = CollectionsMarshal.AsSpan(_runs);
            int low = 0, high = runs.Length - 1;
            while (low <= high)
            {
                var middle = (low + high) >>> 1;
                if (value < runs[middle].Low)
                {
                    high = middle - 1;
                }
                else if (value > runs[middle].High)
                {
                    low = middle + 1;
                }
                else
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// The query for a table's pending changes up to a sequence number (parameter <c>$s</c>), one row per changed
    /// key: the row as it is now (all columns, in table order), then the key as logged, then whether the row existed
    /// before its pending changes (the kind of change that tells: 1, an insert, when it did not), then 1 when the row still
    /// exists, then the sequence number of the change that tells (the one a held row keeps pending), then the logged key as
    /// SQL literals (<c>quote()</c>, comma-separated: exact storage classes, to address the row again later), then the
    /// last change's sequence number. A row that no longer exists is a delete, whatever happened before.
    /// </summary>
    public static string PendingQuery(RegisteredTable registered, SourceTable table)
    {
        ArgumentNullException.ThrowIfNull(registered);
        ArgumentNullException.ThrowIfNull(table);
        var keys = Enumerable.Range(1, table.KeyColumns.Count).Select(i => "k" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        var columns = string.Join(", ", table.Columns.Select(c => "t." + Identifiers.Quote(c.Name)));
        // A key column that can hold NULL (SQLite allows it outside an INTEGER PRIMARY KEY or NOT NULL) is matched with
        // IS, so that a row with a NULL key is found, and held back by name, rather than taken for deleted.
        var rowidAlias = table.KeyIsRowid;
        // A key column declared COLLATE NOCASE (or RTRIM) would find 'ABC' for a logged 'Abc', taking a deleted key for the
        // row now under another spelling, which PostgreSQL stores apart: both would be upserted as one row (a run failing
        // for good). The key is matched exactly too; the column's own comparison stays first, for its index.
        string Exactly(string column, string op, string key) => rowidAlias ? "" : $" AND {column} {op} {key} COLLATE BINARY";
        var join = string.Join(" AND ", table.KeyColumns.Select((c, i) => (Column: $"t.{Identifiers.Quote(c.Name)}", Op: rowidAlias || c.NotNull ? "=" : "IS", Key: $"g.{keys[i]}"))
            .Select(k => $"{k.Column} {k.Op} {k.Key}{Exactly(k.Column, k.Op, k.Key)}"));
        var nullable = table.KeyColumns.Where((c, i) => !(rowidAlias || c.NotNull)).Any();
        var exists = nullable
            ? $"({string.Join(" OR ", table.KeyColumns.Select(c => $"t.{Identifiers.Quote(c.Name)} IS NOT NULL"))} OR EXISTS (SELECT 1 FROM {Identifiers.Quote(table.Name)} AS x WHERE {string.Join(" AND ", table.KeyColumns.Select((c, i) => $"x.{Identifiers.Quote(c.Name)} IS g.{keys[i]}{Exactly($"x.{Identifiers.Quote(c.Name)}", "IS", $"g.{keys[i]}")}"))}))"
            : $"t.{Identifiers.Quote(table.KeyColumns[0].Name)} IS NOT NULL";
        // The op says whether the row existed before the changes PostgreSQL does not have: those after $a (what an
        // unrecorded run already committed there, else 0), or, when every change is at or before $a, all of them. The
        // first insert or delete among them tells (an insert: the row was new; a delete: it existed); only updates, it
        // existed. Not the first entry: SQLite fires the most recently created trigger first, so an application's AFTER
        // trigger newer than DbSync's that writes the same row ("touch updated_at") logs its update before the insert
        // that fired it, and a brand-new row was taken for one PostgreSQL had lost (DeletedInTarget; under TargetWins
        // deleted from the file; capture2 exploration, F1). Nesting swaps an insert and a delete of one key only when a
        // newer trigger deletes the row its insert made (the row is gone: a delete, which a target lacking the row takes as
        // nothing) or puts back the row its delete removed (the row exists: an upsert of the row the target has), both
        // harmless. An update before the first insert is a nested one, or
        // the `_ri`/`_ru` entry of a row REPLACE removed and a later insert put back: then, as for INSERT OR REPLACE of
        // the same key, the row is pushed as an insert (an upsert; PostgreSQL lacking it is no conflict). seq * 4 + op
        // orders by seq and carries op (1 to 3) along, since SQLite takes a bare column from min()'s row only when the
        // query has a single min(). A row held back keeps the insert's entry pending, so the next run reads it as new too.
        var log = Identifiers.Quote(registered.LogTable);
        return $"""
            SELECT {columns}, {string.Join(", ", keys.Select(k => "g." + k))}, g.decisive % 4 AS _dbsync_op, {exists} AS _dbsync_exists,
                CASE WHEN g.decisive % 4 = {OpInsert} THEN g.decisive / 4 ELSE g.first_seq END, {string.Join(" || ',' || ", keys.Select(k => $"quote(g.{k})"))}, g.last_seq
            FROM (SELECT {string.Join(", ", keys)},
                    coalesce(min(CASE WHEN seq > $a AND op <> {OpUpdate} THEN seq * 4 + op END), min(CASE WHEN seq > $a THEN seq * 4 + op END),
                        min(CASE WHEN op <> {OpUpdate} THEN seq * 4 + op END), min(seq * 4 + op)) AS decisive,
                    min(seq) AS first_seq, max(seq) AS last_seq
                FROM {log} WHERE seq <= $s GROUP BY {string.Join(", ", keys)}) AS g
            LEFT JOIN {Identifiers.Quote(table.Name)} AS t ON {join}
            """;
    }

    /// <summary>
    /// <see cref="PendingQuery"/> narrowed to the keys whose row no longer exists: the deletes among the pending
    /// changes, same columns, same <c>$s</c>.
    /// </summary>
    public static string PendingDeletesQuery(RegisteredTable registered, SourceTable table) =>
        $"SELECT * FROM ({PendingQuery(registered, table)}) WHERE _dbsync_exists = 0";

    /// <summary>
    /// The query reading a whole table, columns in table order; with <paramref name="withKeyLiterals"/>, then the key as
    /// SQL literals, as in <see cref="PendingQuery"/>.
    /// </summary>
    public static string FullQuery(SourceTable table, bool withKeyLiterals = false)
    {
        ArgumentNullException.ThrowIfNull(table);
        var literals = withKeyLiterals ? ", " + string.Join(" || ',' || ", table.KeyColumns.Select(c => $"quote({Identifiers.Quote(c.Name)})")) : "";
        return $"SELECT {string.Join(", ", table.Columns.Select(c => Identifiers.Quote(c.Name)))}{literals} FROM {Identifiers.Quote(table.Name)}";
    }

    /// <summary>
    /// Forgets changes up to a sequence number: they are in PostgreSQL. Later changes stay pending, and so do the
    /// first entries of this run's held rows (<c>temp._dbsync_run_held</c>).
    /// </summary>
    /// <remarks>
    /// <paramref name="keySignature"/> is the key the run synced the table by: the same as before, or the key columns'
    /// new names after a rename (see <c>SyncPlanner.KeyChanged</c>).
    /// </remarks>
    public static void MarkSynced(SqliteConnection connection, SqliteTransaction transaction, RegisteredTable registered, long upTo, string columnSignature, string keySignature)
    {
        ArgumentNullException.ThrowIfNull(registered);
        var id = registered.Id.ToString(CultureInfo.InvariantCulture);
        using (var delete = Command(connection, transaction,
            $"DELETE FROM {Identifiers.Quote(registered.LogTable)} WHERE seq <= $s AND seq NOT IN (SELECT seq FROM temp._dbsync_run_held WHERE table_id = {id} AND seq IS NOT NULL)"))
        {
            delete.Parameters.AddWithValue("$s", upTo);
            delete.ExecuteNonQuery();
        }

        using var update = Command(connection, transaction,
            "UPDATE _dbsync_tables SET loaded = 1, column_signature = $c, key_signature = $k, target_created = $tc WHERE id = $id");
        update.Parameters.AddWithValue("$c", columnSignature);
        update.Parameters.AddWithValue("$k", keySignature);
        update.Parameters.AddWithValue("$tc", registered.TargetCreated ? 1 : 0);
        update.Parameters.AddWithValue("$id", registered.Id);
        update.ExecuteNonQuery();
        registered.Loaded = true;
        registered.ColumnSignature = columnSignature;
        registered.KeySignature = keySignature;
    }

    /// <summary>
    /// The entries in the change logs of <paramref name="tables"/>; of a table in <paramref name="upTo"/>, only those up
    /// to that sequence number.
    /// </summary>
    internal static long CountLogEntries(SqliteConnection connection, SqliteTransaction? transaction, IEnumerable<RegisteredTable> tables,
        IReadOnlyDictionary<long, long>? upTo = null)
    {
        var logs = tables
            .Select(t => $"(SELECT count(*) FROM {Identifiers.Quote(t.LogTable)}" +
                (upTo is not null && upTo.TryGetValue(t.Id, out var seq) ? $" WHERE seq <= {seq.ToString(CultureInfo.InvariantCulture)})" : ")"))
            .ToList();
        // One sum of a thousand terms is deeper than SQLite parses ("Expression tree is too large (maximum depth
        // 1000)"): a file of about 1,000 captured tables failed every run after PostgreSQL committed (scale
        // exploration, F1). Summed in parts, several of them in one read snapshot.
        var parts = logs.Chunk(CountTermsPerStatement).ToList();
        using var own = transaction is null && parts.Count > 1 ? connection.BeginTransaction(deferred: true) : null;
        return parts.Sum(part => Scalar<long>(connection, transaction ?? own, "SELECT " + string.Join(" + ", part)));
    }

    /// <summary>Terms of one sum in <see cref="CountLogEntries"/>, well below SQLite's expression depth limit of 1,000.</summary>
    private const int CountTermsPerStatement = 250;

    /// <summary>Creates a command bound to a transaction.</summary>
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    internal static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        command.ExecuteNonQuery();
    }

    internal static T Scalar<T>(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), CultureInfo.InvariantCulture);
    }
}

/// <summary>The forms of DbSync's capture triggers, as each version installed them.</summary>
public enum TriggerForm
{
    /// <summary>The first form: the update trigger logged a key change's new key as an update.</summary>
    KeyChangeAsUpdate,

    /// <summary>A key change told through the key column's collation, so a NOCASE key's change of case only was an update.</summary>
    KeyComparedByCollation,

    /// <summary>This DbSync's.</summary>
    Current,
}
