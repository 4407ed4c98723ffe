using System.Text.RegularExpressions;
using DbSync.Core.Capture;
using DbSync.Core.Schema;
using DbSync.Core.Target;

namespace DbSync.Core.Planning;

/// <summary>How a table's rows reach PostgreSQL in a run.</summary>
public enum LoadMode
{
    /// <summary>Only the pending changes, through a staging table.</summary>
    Push,
    /// <summary>All rows, by binary COPY straight into an empty target.</summary>
    CopyDirect,
    /// <summary>All rows, through a staging table and an upsert (the target already holds rows).</summary>
    CopyUpsert,
}

/// <summary>Everything the engine needs to move one table.</summary>
public sealed class TablePlan
{
    /// <summary>
    /// The table's definition changed in SQLite with the same columns (a column dropped and added again): it is copied
    /// again in full, since SQLite rewrote its rows without firing a trigger.
    /// </summary>
    public bool Redefined { get; init; }

    /// <summary>The source table.</summary>
    public required SourceTable Source { get; init; }

    /// <summary>Its capture registration.</summary>
    public required RegisteredTable Registry { get; init; }

    /// <summary>Target table name (unqualified).</summary>
    public required string TargetName { get; init; }

    /// <summary>Target column names, parallel to <see cref="SourceTable.Columns"/>.</summary>
    public required IReadOnlyList<string> TargetColumns { get; init; }

    /// <summary>Target column types, parallel to <see cref="SourceTable.Columns"/>.</summary>
    public required IReadOnlyList<PgType> TargetTypes { get; init; }

    /// <summary>The target table does not exist and is created in this run.</summary>
    public bool CreateTarget { get; init; }

    /// <summary>Columns added to SQLite since the last sync, to add to the target.</summary>
    public IReadOnlyList<int> AddColumns { get; init; } = [];

    /// <summary>How the rows go.</summary>
    public LoadMode Mode { get; set; }

    /// <summary>Delete target rows whose key is not in the source (resync).</summary>
    public bool DeleteMissing { get; init; }

    /// <summary>Highest change sequence read in this run's snapshot.</summary>
    public long Snapshot { get; set; }

    /// <summary>The random number of the change <see cref="Snapshot"/> names (0 for none): which change that is, not only its number.</summary>
    public long SnapshotEntry { get; set; }

    /// <summary>
    /// The sequence number through which PostgreSQL already has this table's pending changes: a run committed them there
    /// but the file never recorded it (see <see cref="Conflicts.NodeIdentity.ClaimAsync"/>). 0 when there was no such run.
    /// </summary>
    public long AppliedThrough { get; set; }

    /// <summary>
    /// The unrecorded run of <see cref="AppliedThrough"/> held no row of this table back (its log entry as committed says
    /// no row quarantined and no conflict left pending), so it applied every change it read but those whose conflict the
    /// target won: the rows changed only up to <see cref="AppliedThrough"/> are synced (see <c>Applier.SkipAppliedAsync</c>).
    /// False when that run held rows here, or its entry is unknown: which rows it held is not known, so all are pushed again.
    /// </summary>
    public bool AppliedAll { get; set; }

    /// <summary>
    /// The unrecorded runs whose changes <see cref="AppliedThrough"/> counts, each with its snapshot of this table: the
    /// last one, and earlier ones that no recorded run settled since (see <see cref="Conflicts.NodeIdentity.Unsettled"/>).
    /// </summary>
    public IReadOnlyDictionary<Guid, long> UnrecordedRuns { get; set; } = new Dictionary<Guid, long>();

    /// <summary>Rows an unrecorded run gave the target, marked not to be pushed again (see <c>Applier.RecoverTargetWinsAsync</c>).</summary>
    public long Recovered { get; set; }

    /// <summary>Rows written to the staging table.</summary>
    public long StagedRows { get; set; }

    /// <summary>Staged rows that are deletes.</summary>
    public long StagedDeletes { get; set; }

    /// <summary>
    /// The target table has a trigger, a rule or row security (<see cref="TargetTable.AltersWrites"/>): its rows go
    /// through staging, and before the commit the run checks that PostgreSQL stored each as written.
    /// </summary>
    public bool Verify { get; set; }

    /// <summary>
    /// A push's batches (by the row number before their first) whose pending updates the classification already applied:
    /// every row they update was this node's, so nothing of theirs can conflict (see <c>Applier.ClassifyAsync</c>).
    /// </summary>
    internal HashSet<long> UpdatedBatches { get; } = [];

    /// <summary>
    /// The reason and key of staged rows held back whose text the PostgreSQL database's encoding cannot hold, by row
    /// number: the staging table has a stand-in for them (see <see cref="Target.ServerEncoding.Escape"/>).
    /// </summary>
    internal Dictionary<long, (string Reason, string Key)> HeldTexts { get; } = [];

    /// <summary>Name of this run's staging table, when one is used.</summary>
    public string StagingTable => "_dbsync_stage_" + Registry.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The per-table result being filled in.</summary>
    public required TableSyncResult Result { get; init; }

    /// <summary>The target column that holds the node id, first in the key, for a node-partitioned table; else null.</summary>
    public string? NodeColumn { get; init; }

    /// <summary>The target is a partitioned table: its upserts count inserts and updates without <c>xmax</c>.</summary>
    public bool TargetPartitioned { get; init; }

    /// <summary>
    /// The target column a run sets to its own value to make a row this node's (see <c>Applier.TouchAsync</c>): the first
    /// key column, unless PostgreSQL lets no UPDATE set it (an identity GENERATED ALWAYS).
    /// </summary>
    public string TouchColumn => TouchColumnOverride ?? TargetKeyColumns.First();

    /// <summary>The column <see cref="TouchColumn"/> is when not the first key column, else null.</summary>
    public string? TouchColumnOverride { get; init; }

    /// <summary>The node id written to <see cref="NodeColumn"/>; set by the engine.</summary>
    public string NodeId { get; set; } = "";

    /// <summary>For a node-partitioned table, the SQL condition that keeps to this node's rows (<c> AND alias.dbsync_node = 'id'</c>); else empty.</summary>
    public string NodeFilter(string alias) =>
        NodeColumn is null ? "" : $" AND {alias}.{Identifiers.Quote(NodeColumn)} = '{NodeId.Replace("'", "''", StringComparison.Ordinal)}'";

    /// <summary>
    /// The SQL condition that a target row (<paramref name="target"/>) has a staged row's (<paramref name="staged"/>)
    /// key columns; for a node-partitioned table, add <see cref="NodeFilter"/> where only this node's rows count.
    /// </summary>
    public string KeyMatch(string target, string staged) =>
        string.Join(" AND ", TargetKeyColumns.Select(Identifiers.Quote).Select(k => $"{target}.{k} = {staged}.{k}"));

    /// <summary>The target's key columns, quoted, the node column first for a node-partitioned table.</summary>
    public IEnumerable<string> QuotedTargetKey =>
        (NodeColumn is null ? TargetKeyColumns : TargetKeyColumns.Prepend(NodeColumn)).Select(Identifiers.Quote);

    /// <summary>Target names of the key columns, in key order.</summary>
    public IEnumerable<string> TargetKeyColumns => Source.KeyColumns.Select(k => TargetColumns[IndexOf(k.Name)]);

    /// <summary>Index of a source column.</summary>
    public int IndexOf(string sourceColumn)
    {
        for (var i = 0; i < Source.Columns.Count; i++)
        {
            if (Identifiers.SqliteNames.Equals(Source.Columns[i].Name, sourceColumn))
            {
                return i;
            }
        }

        throw new InvalidOperationException($"Column {sourceColumn} is not in table {Source.Name}.");
    }
}

/// <summary>Selects tables, matches them to the target and orders them by foreign keys.</summary>
public static class SyncPlanner
{
    /// <summary>The target column a node-partitioned table gets: the node id, first in the primary key.</summary>
    public const string NodeColumnName = "dbsync_node";

    /// <summary>True when the name matches any pattern (<c>*</c>, <c>?</c>, case-insensitive).</summary>
    public static bool Matches(string name, IReadOnlyList<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        return patterns.Any(p => PatternRegex(p).IsMatch(name));
    }

    /// <summary>True when a table of this name is selected: no patterns (every table), or one that matches.</summary>
    public static bool Selects(string name, IReadOnlyList<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        return patterns.Count == 0 || Matches(name, patterns);
    }

    private static Regex PatternRegex(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline);

    /// <summary>Selects the tables matching any pattern (<c>*</c>, <c>?</c>, case-insensitive); all when none.</summary>
    /// <exception cref="DbSyncException">TableNotFound when a pattern matches nothing.</exception>
    public static IReadOnlyList<SourceTable> Select(IReadOnlyList<SourceTable> tables, IReadOnlyList<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(patterns);
        if (patterns.Count == 0)
        {
            return tables;
        }

        var selected = new List<SourceTable>();
        foreach (var pattern in patterns)
        {
            var regex = PatternRegex(pattern);
            var matches = tables.Where(t => regex.IsMatch(t.Name)).ToList();
            if (matches.Count == 0)
            {
                throw new DbSyncException(ErrorIds.TableNotFound, DbSyncErrorCategory.ObjectNotFound,
                    $"No table matches '{Secrets.Redact(pattern)}'. Tables: {string.Join(", ", tables.Select(t => t.Name))}.", Secrets.Redact(pattern));
            }

            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }

        return selected;
    }

    /// <summary>
    /// Orders tables parents first by their foreign keys among themselves. Self-references are ignored and
    /// cycles broken by name: foreign keys are deferred inside a run, so any order commits.
    /// </summary>
    public static IReadOnlyList<T> ParentsFirst<T>(IReadOnlyList<T> items, Func<T, SourceTable> table)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(table);
        var byName = items.ToDictionary(i => table(i).Name, Identifiers.SqliteNames);
        var ordered = new List<T>();
        var state = new Dictionary<string, int>(Identifiers.SqliteNames); // 1 visiting, 2 done
        void Visit(T item)
        {
            var name = table(item).Name;
            if (state.TryGetValue(name, out var s) && s > 0)
            {
                return;
            }

            state[name] = 1;
            foreach (var fk in table(item).ForeignKeys.OrderBy(f => f.ParentTable, StringComparer.OrdinalIgnoreCase))
            {
                if (byName.TryGetValue(fk.ParentTable, out var parent) && !Identifiers.SqliteNames.Equals(fk.ParentTable, name))
                {
                    Visit(parent);
                }
            }

            state[name] = 2;
            ordered.Add(item);
        }

        foreach (var item in items.OrderBy(i => table(i).Name, StringComparer.OrdinalIgnoreCase))
        {
            Visit(item);
        }

        return ordered;
    }

    /// <summary>
    /// Refuses tables, or columns of one table, that SQLite keeps apart but whose PostgreSQL names would be the same
    /// once lower-cased: SQLite folds only ASCII letters, so 'Ä' and 'ä' can both exist there. Without this check
    /// PostgreSQL would fail mid-run on a duplicate name.
    /// </summary>
    /// <exception cref="DbSyncException">SchemaMismatch naming the colliding names.</exception>
    public static void CheckNameCollisions(IEnumerable<SourceTable> tables, bool preserveCase)
    {
        ArgumentNullException.ThrowIfNull(tables);
        if (preserveCase)
        {
            return;
        }

        var list = tables.ToList();
        static string Names(IEnumerable<string> names) => string.Join(" and ", names.Select(n => $"'{n}'"));
        foreach (var group in list.GroupBy(t => Identifiers.ToTargetName(t.Name, false), StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Tables {Names(group.Select(t => t.Name))} are different tables in SQLite but would both be '{group.Key}' once lower-cased in PostgreSQL; rename one or use --preserve-case.",
                group.First().Name);
        }

        foreach (var table in list)
        {
            foreach (var group in table.Columns.GroupBy(c => Identifiers.ToTargetName(c.Name, false), StringComparer.Ordinal).Where(g => g.Count() > 1))
            {
                throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                    $"Table '{table.Name}': columns {Names(group.Select(c => c.Name))} are different columns in SQLite but would both be '{group.Key}' once lower-cased in PostgreSQL; rename one or use --preserve-case.",
                    table.Name);
            }
        }
    }

    /// <summary>
    /// Why the next sync skips this captured table, as far as the file alone tells (its key changed since capture began,
    /// its key's collation is unknown, a synced column was dropped or renamed); null when nothing in the file says so.
    /// Status shows it: it said "not copied to PostgreSQL yet: the next sync copies its rows in full", or nothing at all,
    /// for such a table (schema exploration, M1). The sync's own message (and 'dbsync test') says what to do.
    /// </summary>
    public static string? SkipReason(SourceTable source, RegisteredTable registry)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(registry);
        if (KeyChanged(source, registry))
        {
            return $"its primary key changed from ({registry.KeySignature.Replace('\t', ',')}) to ({CaptureStore.KeySignatureOf(source).Replace('\t', ',')}) since capture began: the next sync skips it ({ErrorIds.SchemaChanged}), its changes stay pending; a sync's message says what to do";
        }

        if (source.UnknownKeyCollation is { } unknown)
        {
            return $"its primary key column '{unknown.Column}' is declared COLLATE {unknown.Collation}, which DbSync does not know: the next sync skips it ({ErrorIds.UnknownCollation})";
        }

        var lost = LostColumns(source, SourceTable.RecordedColumns(registry.ColumnSignature));
        return lost.Count > 0
            ? $"column(s) {string.Join(", ", lost.Select(l => $"'{l}'"))} were dropped or renamed in SQLite since the last sync: the next sync skips it ({ErrorIds.SchemaChanged}) until the PostgreSQL table matches and a sync with --resync copies it; a sync's message says what to do"
            : null;
    }

    /// <summary>
    /// The table's key is other columns than capture began with. Not so for a key column renamed (<c>ALTER TABLE ...
    /// RENAME COLUMN id TO item_id</c>): SQLite rewrites the capture triggers itself and every logged key still names its
    /// row, so it is a lost column like any other (rename it in PostgreSQL, then --resync the table), whose successful
    /// sync records the new key names. Taken for a re-key, the table was skipped for good, --resync did not help, and the
    /// only way on was disable --force of the whole file (capture exploration 2, F6). A rename is the old key column
    /// gone from the table, at its recorded position a column the last sync did not have, in the same key position.
    /// </summary>
    internal static bool KeyChanged(SourceTable source, RegisteredTable registry)
    {
        if (registry.KeySignature == CaptureStore.KeySignatureOf(source))
        {
            return false;
        }

        var recorded = SourceTable.RecordedColumns(registry.ColumnSignature);
        var old = registry.KeySignature.Split('\t').Select(SourceTable.UnescapeSignature).ToList();
        if (recorded.Count == 0 || recorded.Count != source.Columns.Count || old.Count != source.KeyColumns.Count)
        {
            return true;
        }

        for (var i = 0; i < old.Count; i++)
        {
            var now = source.KeyColumns[i].Name;
            if (Identifiers.SqliteNames.Equals(old[i], now))
            {
                continue;
            }

            var position = recorded.ToList().FindIndex(r => Identifiers.SqliteNames.Equals(r, old[i]));
            if (position < 0 || source.Columns.Any(c => Identifiers.SqliteNames.Equals(c.Name, old[i]))
                || recorded.Any(r => Identifiers.SqliteNames.Equals(r, now)) || !Identifiers.SqliteNames.Equals(source.Columns[position].Name, now))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The columns recorded at the last sync that the source table no longer has (dropped or renamed).</summary>
    private static List<string> LostColumns(SourceTable source, IEnumerable<string> recorded) =>
        recorded.Where(p => !source.Columns.Any(c => Identifiers.SqliteNames.Equals(c.Name, p))).ToList();

    /// <summary>Why a table whose key column compares under a collation DbSync does not have is skipped, and what to do.</summary>
    public static string UnknownCollationMessage(string table, string column, string collation) =>
        $"Table '{table}': its primary key column '{column}' is declared COLLATE {collation}, a collation that only the application's own connections register, "
        + "so DbSync cannot look its changed rows up by key. The table is skipped; the other tables sync. Declare the key column with a built-in collation "
        + "(BINARY, NOCASE or RTRIM) in SQLite, or leave the table out with --table.";

    /// <summary>
    /// Builds the plan for one table against what exists in PostgreSQL, or throws SchemaMismatch / NameTooLong
    /// naming the table, the column and both types. Throws SchemaChanged when the source table lost a column or
    /// changed its key since capture began (the caller skips that table).
    /// </summary>
    public static TablePlan Plan(SourceTable source, RegisteredTable registry, string schema, IReadOnlyDictionary<string, TargetTable> targets,
        bool preserveCase, bool resync, bool nodePartitioned = false)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(targets);

        if (KeyChanged(source, registry))
        {
            throw new DbSyncException(ErrorIds.SchemaChanged, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': its primary key changed from ({registry.KeySignature.Replace('\t', ',')}) to ({CaptureStore.KeySignatureOf(source).Replace('\t', ',')}) since capture began, so its change log no longer names its rows; its changes stay pending. "
                + $"DbSync does not re-key PostgreSQL tables: first give {Identifiers.Quote(schema, Identifiers.ToTargetName(source.Name, preserveCase))} the primary key ({string.Join(", ", source.KeyColumns.Select(k => Identifiers.ToTargetName(k.Name, preserveCase)))}) there, or drop it so that DbSync creates it again; "
                + "then run 'dbsync disable' and sync again. disable removes capture from every table of the file and refuses while changes are pending: sync the other tables first, then disable with --force, which discards only this table's; "
                + $"the next sync captures every table again and copies each in full (a row deleted from this table meanwhile stays in PostgreSQL unless this node wrote it last: a later 'sync --resync --table {source.Name}' removes it).",
                source.Name);
        }

        if (source.UnknownKeyCollation is { } unknown)
        {
            throw new DbSyncException(ErrorIds.UnknownCollation, DbSyncErrorCategory.MetadataError, UnknownCollationMessage(source.Name, unknown.Column, unknown.Collation), source.Name);
        }

        var previous = SourceTable.RecordedColumns(registry.ColumnSignature);
        // Recorded by this DbSync's syncs only (older ones kept the columns alone): a different definition with the same
        // columns is a column dropped and added again.
        var definition = SourceTable.RecordedDefinition(registry.ColumnSignature);
        var lost = LostColumns(source, previous);
        var targetName = Identifiers.ToTargetName(source.Name, preserveCase);
        CheckLength(targetName, $"Table '{source.Name}'", source.Name);
        foreach (var column in source.Columns)
        {
            if (ReservedColumnName(Identifiers.ToTargetName(column.Name, preserveCase)) is { } reserved)
            {
                throw new DbSyncException(ErrorIds.ReservedName, DbSyncErrorCategory.MetadataError,
                    $"Table '{source.Name}', column '{column.Name}': {reserved}; rename the column in SQLite to sync this table.", source.Name);
            }
        }

        if (TooWide(source) is { } tooWide)
        {
            throw new DbSyncException(ErrorIds.TableTooWide, DbSyncErrorCategory.MetadataError, tooWide, source.Name);
        }

        var mapped = source.Columns.Select(c => TypeMapping.Map(c.DeclaredType)).ToList();

        var matches = targets.Values.Where(t => !t.NameOnly && string.Equals(t.Name, targetName, StringComparison.OrdinalIgnoreCase)).ToList();
        // A sequence, index or type is in the way only of a table to create under its exact name; an administrator's
        // "Item" beside an index "item" is still the table synced into.
        var existing = matches.FirstOrDefault(t => t.Name == targetName) ?? (matches.Count == 1 ? matches[0]
            : matches.Count == 0 && targets.TryGetValue(targetName, out var other) && other.NameOnly ? other : null);
        if (existing is null && matches.Count > 1)
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': schema '{schema}' has several tables whose names differ only in case ({string.Join(", ", matches.Select(m => m.Name))}); use --preserve-case or rename one.",
                source.Name);
        }

        // Pushed, the rows would leave the lost column's old values in PostgreSQL. A resync copies the table whole, once
        // the target no longer has the column: then the file records the table's new columns.
        var stale = lost.Where(l => existing?.FindColumn(Identifiers.ToTargetName(l, preserveCase)) is not null).ToList();
        if (lost.Count > 0 && (!resync || stale.Count > 0))
        {
            throw new DbSyncException(ErrorIds.SchemaChanged, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': column(s) {string.Join(", ", lost.Select(l => $"'{l}'"))} were dropped or renamed in SQLite since the last sync. " +
                (resync
                    ? $"The target table still has {string.Join(", ", stale.Select(l => $"'{Identifiers.ToTargetName(l, preserveCase)}'"))}: DbSync does not drop or rename PostgreSQL columns; drop or rename it there, then run with --resync again."
                    : "DbSync does not drop or rename PostgreSQL columns; change the target table to match, then run with --resync for this table."),
                source.Name);
        }

        if (existing is null)
        {
            var columns = source.Columns.Select(c => Identifiers.ToTargetName(c.Name, preserveCase)).ToList();
            foreach (var (column, i) in columns.Select((c, i) => (c, i)))
            {
                CheckLength(column, $"Table '{source.Name}', column '{source.Columns[i].Name}'", source.Name);
            }

            if (nodePartitioned && columns.Contains(NodeColumnName, StringComparer.OrdinalIgnoreCase))
            {
                throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                    $"Table '{source.Name}' has a column named '{NodeColumnName}', the column --node-partitioned adds; rename it to partition the table by node.",
                    source.Name);
            }

            registry.TargetCreated = true;
            return new TablePlan
            {
                Source = source, Registry = registry, TargetName = targetName, TargetColumns = columns, TargetTypes = mapped,
                CreateTarget = true, Mode = LoadMode.CopyDirect, NodeColumn = nodePartitioned ? NodeColumnName : null,
                Result = new TableSyncResult { Name = source.Name, Target = Identifiers.Quote(schema, targetName) },
            };
        }

        var exactResult = new TableSyncResult { Name = source.Name, Target = Identifiers.Quote(schema, existing.Name) };
        if (existing.NotATable is { } taken && existing.NameOnly)
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': the name {exactResult.Target} is taken by {taken} in PostgreSQL, so the table cannot be created there. Rename or drop it there, or sync into another schema (--schema).",
                source.Name);
        }

        if (existing.NotATable is { } kind)
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': {exactResult.Target} is {kind} in PostgreSQL, not a table; DbSync writes only to tables. Rename or drop it there, or sync into another schema.",
                source.Name);
        }

        if (existing.BlockingRules is { } rules)
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': PostgreSQL table {exactResult.Target} has rules that DbSync cannot write through: {rules} (PostgreSQL refuses an upsert into a table with INSERT or UPDATE rules, and an INSTEAD rule replaces a delete). Drop or disable them there, or do not sync this table.",
                source.Name);
        }

        if (existing.InheritedBy is { } children)
        {
            // An upsert sees only the table's own unique index: an update of a row that lives in a child inserted a second
            // row with its key into the table, while a delete reached the child.
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': PostgreSQL table {exactResult.Target} has inheritance children ({children}), whose rows share its keys unseen by its primary key, so DbSync cannot keep each key to one row. Move their rows back (INSERT INTO {exactResult.Target} SELECT * FROM ONLY <child>) and drop the inheritance (ALTER TABLE <child> NO INHERIT {exactResult.Target};), make it a partitioned table, or sync into another schema.",
                source.Name);
        }

        var targetColumns = new List<string>();
        var targetTypes = new List<PgType>();
        var added = new List<int>();
        for (var i = 0; i < source.Columns.Count; i++)
        {
            var column = source.Columns[i];
            var target = existing.FindColumn(Identifiers.ToTargetName(column.Name, preserveCase));
            if (target is null)
            {
                // New since the last successful sync, whose columns the file recorded: added to the target. So also for a
                // table being copied again in full (SQLite's create-copy-drop-rename rebuild drops the capture triggers).
                var isNew = previous.Count > 0 && !previous.Contains(column.Name, Identifiers.SqliteNames);
                if (!isNew)
                {
                    throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                        $"Table '{source.Name}': column '{column.Name}' ({column.DeclaredType}, maps to {mapped[i].SqlName}) is missing in PostgreSQL table {exactResult.Target}.",
                        source.Name);
                }

                var name = Identifiers.ToTargetName(column.Name, preserveCase);
                CheckLength(name, $"Table '{source.Name}', column '{column.Name}'", source.Name);
                added.Add(i);
                targetColumns.Add(name);
                targetTypes.Add(mapped[i]);
                continue;
            }

            if (target.Generated)
            {
                throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                    $"Table '{source.Name}': column '{column.Name}' is a generated column in PostgreSQL table {exactResult.Target}, which takes no value; make it a plain column there to sync it.",
                    source.Name);
            }

            // A key column so made is fine: its value never changes, and DbSync's inserts override the identity. Any other
            // synced column must take the file's value on every update, which PostgreSQL refuses for such a column.
            if (target.IdentityAlways && column.KeyPosition == 0)
            {
                throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                    $"Table '{source.Name}': column '{column.Name}' is an identity column GENERATED ALWAYS in PostgreSQL table {exactResult.Target}, which no update may set; let it take the file's values there (ALTER TABLE {exactResult.Target} ALTER COLUMN {Identifiers.Quote(target.Name)} SET GENERATED BY DEFAULT;).",
                    source.Name);
            }

            // The key decides which row an upsert writes: under a collation that ignores case, the file's new row 'ABC'
            // went over PostgreSQL's other row 'abc', reported as an update (target exploration, F26).
            if (target.NondeterministicCollation is { } collation && column.KeyPosition > 0)
            {
                throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                    $"Table '{source.Name}': key column '{column.Name}' has the nondeterministic collation {collation} in PostgreSQL table {exactResult.Target}, which takes keys that differ (in case or accents, say) for one key, where SQLite keeps them apart: the file's rows would overwrite each other there. "
                    + $"Give it a deterministic collation (ALTER TABLE {exactResult.Target} ALTER COLUMN {Identifiers.Quote(target.Name)} TYPE {target.FormattedType} COLLATE \"default\";), or sync into another schema.",
                    source.Name);
            }

            if (target.Type is null || !TypeMapping.IsCompatible(mapped[i], target.Type))
            {
                // Retyped in SQLite since the last sync (a 12-step rebuild): that table waits for the target to follow, as
                // for a dropped column; the others go on. It stopped every table of the file, naming no fix.
                if (SourceTable.RecordedType(registry.ColumnSignature, column.Name) is { } before
                    && !string.Equals(before, column.DeclaredType, StringComparison.OrdinalIgnoreCase)
                    && !TypeMapping.IsCompatible(TypeMapping.Map(before), mapped[i]))
                {
                    throw new DbSyncException(ErrorIds.SchemaChanged, DbSyncErrorCategory.MetadataError,
                        $"Table '{source.Name}': column '{column.Name}' changed its type in SQLite since the last sync, from {(before.Length == 0 ? "untyped" : before)} to {(column.DeclaredType.Length == 0 ? "untyped" : column.DeclaredType)} (maps to {mapped[i].SqlName}), "
                        + $"but is {target.FormattedType} in PostgreSQL table {exactResult.Target}; its changes stay pending. DbSync does not change PostgreSQL column types: change it there "
                        + $"(ALTER TABLE {exactResult.Target} ALTER COLUMN {Identifiers.Quote(target.Name)} TYPE {mapped[i].SqlName} USING {Identifiers.Quote(target.Name)}::{mapped[i].SqlName};), "
                        + $"then run with --resync for this table (--table {source.Name}), which copies it whole and removes the rows the file no longer has.",
                        source.Name);
                }

                throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                    $"Table '{source.Name}': column '{column.Name}' is {(column.DeclaredType.Length == 0 ? "untyped" : column.DeclaredType)} in SQLite (maps to {mapped[i].SqlName}) but {target.FormattedType} in PostgreSQL table {exactResult.Target}; the types are incompatible.",
                    source.Name);
            }

            targetColumns.Add(target.Name);
            targetTypes.Add(target.Type);
        }

        var keyTargets = source.KeyColumns.Select(k => targetColumns[IndexOfColumn(source, k)]).ToHashSet(StringComparer.Ordinal);
        // A target table keyed by the node column and the source key is node-partitioned, whether or not this run asked.
        var nodeColumn = existing.FindColumn(NodeColumnName) is { } found && !source.Columns.Any(c => Identifiers.SqliteNames.Equals(c.Name, NodeColumnName))
            && existing.UniqueKeys.Any(u => u.Count == keyTargets.Count + 1 && u.Contains(found.Name) && keyTargets.All(u.Contains))
            ? found.Name
            : null;
        if (nodeColumn is not null)
        {
            keyTargets.Add(nodeColumn);
        }
        else if (nodePartitioned)
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}' is to be node-partitioned, but PostgreSQL table {exactResult.Target} already exists without a '{NodeColumnName}' column in its primary key; DbSync does not rekey an existing table. Drop or rename it, or sync the table without --node-partitioned.",
                source.Name);
        }

        if (!existing.UniqueKeys.Any(u => u.Count == keyTargets.Count && u.All(keyTargets.Contains))
            && existing.DeferrableKeys.FirstOrDefault(d => d.Columns.Count == keyTargets.Count && d.Columns.All(keyTargets.Contains)) is { Name: not null } deferrable)
        {
            // PostgreSQL takes no deferrable constraint as ON CONFLICT's arbiter, nor as the key a foreign key references:
            // every push failed with 55000. ALTER CONSTRAINT changes only foreign keys, so the fix re-creates it.
            var columns = string.Join(", ", deferrable.Columns.Select(Identifiers.Quote));
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': the key ({columns}) of PostgreSQL table {exactResult.Target} is the DEFERRABLE constraint {Identifiers.Quote(deferrable.Name)}, which PostgreSQL cannot use for an upsert (INSERT ... ON CONFLICT) or a foreign key. Make it not deferrable there: ALTER TABLE {exactResult.Target} DROP CONSTRAINT {Identifiers.Quote(deferrable.Name)}, ADD CONSTRAINT {Identifiers.Quote(deferrable.Name)} {(deferrable.Primary ? "PRIMARY KEY" : "UNIQUE")} ({columns}); (a foreign key referencing it must be dropped first and added again after).",
                source.Name);
        }

        if (!existing.UniqueKeys.Any(u => u.Count == keyTargets.Count && u.All(keyTargets.Contains)))
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': its primary key is ({string.Join(", ", source.KeyColumns.Select(k => k.Name))}) but PostgreSQL table {exactResult.Target} has {(existing.UniqueKeys.Count == 0 ? "no primary key or unique constraint" : "key(s) " + string.Join(" / ", existing.UniqueKeys.Select(u => "(" + string.Join(", ", u) + ")")))} on those columns.",
                source.Name);
        }

        var unfilled = existing.Columns.Where(c => c.NotNull && !c.HasDefault && !targetColumns.Contains(c.Name, StringComparer.Ordinal) && c.Name != nodeColumn).ToList();
        if (unfilled.Count > 0)
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                $"Table '{source.Name}': PostgreSQL table {exactResult.Target} has NOT NULL column(s) without a default that SQLite does not have: {string.Join(", ", unfilled.Select(c => $"'{c.Name}' ({c.FormattedType})"))}.",
                source.Name);
        }

        // The touch that makes a row this node's rewrites a column to itself; PostgreSQL lets no UPDATE set an identity
        // GENERATED ALWAYS, not even to its own value.
        string? touch = null;
        if (existing.FindColumn(targetColumns[IndexOfColumn(source, source.KeyColumns[0])]) is { IdentityAlways: true })
        {
            touch = targetColumns.Append(nodeColumn).OfType<string>().FirstOrDefault(c => existing.FindColumn(c) is not { IdentityAlways: true })
                ?? throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.MetadataError,
                    $"Table '{source.Name}': PostgreSQL table {exactResult.Target} has only identity columns GENERATED ALWAYS among those DbSync writes, none of which an update may set; make the key GENERATED BY DEFAULT there (ALTER TABLE {exactResult.Target} ALTER COLUMN … SET GENERATED BY DEFAULT;).",
                    source.Name);
        }

        var redefined = registry.Loaded && !resync && added.Count == 0 && definition is not null && definition != source.DefinitionHash;
        var mode = !registry.Loaded || resync || added.Count > 0 || redefined ? LoadMode.CopyUpsert : LoadMode.Push;
        return new TablePlan
        {
            Source = source, Registry = registry, TargetName = existing.Name, TargetColumns = targetColumns, TargetTypes = targetTypes,
            AddColumns = added, Mode = mode, DeleteMissing = resync, Result = exactResult, NodeColumn = nodeColumn, Redefined = redefined, TargetPartitioned = existing.Partitioned,
            Verify = existing.AltersWrites, TouchColumnOverride = touch,
        };
    }

    private static int IndexOfColumn(SourceTable table, SourceColumn column)
    {
        for (var i = 0; i < table.Columns.Count; i++)
        {
            if (ReferenceEquals(table.Columns[i], column))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Why a PostgreSQL column name cannot be used (a system column's name, or DbSync's reserved prefix, which its
    /// staging tables use), or null when it can.
    /// </summary>
    public static string? ReservedColumnName(string targetName)
    {
        ArgumentNullException.ThrowIfNull(targetName);
        return targetName is "tableoid" or "xmin" or "cmin" or "xmax" or "cmax" or "ctid"
            ? $"'{targetName}' is the name of a PostgreSQL system column, which no table can have"
            : targetName.StartsWith(SourceSchemaReader.Prefix, StringComparison.OrdinalIgnoreCase)
                ? $"names beginning with {SourceSchemaReader.Prefix} are reserved for DbSync"
                : null;
    }

    /// <summary>
    /// The most columns a synced table can have: PostgreSQL holds at most 1,600 columns in a table, and a push stages a
    /// table's changes in a table of its columns and DbSync's own (<see cref="Target.Staging.All"/>). A wider table would
    /// load once and then fail every push of the whole file (scale exploration, F3).
    /// </summary>
    public static int MaxColumns => 1600 - Target.Staging.All.Length;

    /// <summary>Why a table has too many columns to sync (naming it), or null.</summary>
    public static string? TooWide(SourceTable source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Columns.Count <= MaxColumns ? null
            : $"Table '{source.Name}' has {source.Columns.Count} columns; DbSync syncs tables of at most {MaxColumns}: PostgreSQL holds at most 1600 columns in a table, and a push stages a table's changes beside {Target.Staging.All.Length} columns of its own. "
              + "The table is skipped, the others sync; split it in SQLite (a second table on the same key), or leave it out with --table.";
    }

    private static void CheckLength(string name, string what, string table)
    {
        if (!Identifiers.FitsPostgres(name))
        {
            throw new DbSyncException(ErrorIds.NameTooLong, DbSyncErrorCategory.InvalidData,
                $"{what}: the name '{name}' is longer than PostgreSQL's {Identifiers.PostgresMaxBytes}-byte limit and would be cut short; rename it in SQLite.",
                table);
        }
    }
}
