using System.Diagnostics;
using System.Globalization;
using DbSync.Core.Bookkeeping;
using DbSync.Core.Capture;
using DbSync.Core.Planning;
using DbSync.Core.Schema;
using DbSync.Core.Source;
using DbSync.Core.Target;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Core.Diagnostics;

/// <summary>Read-only views of a file and its target: the plan of a sync, the status, and the preflight checks.</summary>
internal static class Inspector
{
    public static async Task<SyncPlan> PlanAsync(SyncRequest request, string schema, CancellationToken cancellationToken)
    {
        var path = SourceDatabase.Validate(request.Path);
        var builder = TargetDatabase.ParseConnectionString(request.ConnectionString, request.Credential);
        var pg = await TargetDatabase.OpenAsync(builder, cancellationToken).ConfigureAwait(false);
        await using var pgScope = pg.ConfigureAwait(false);
        schema = await TargetDatabase.ResolveSchemaAsync(pg, schema, request.PreserveCase, cancellationToken).ConfigureAwait(false);
        using var sqlite = SourceDatabase.OpenCancellable(path, request.BusyTimeout, cancellationToken);
        try
        {
            var selected = SyncPlanner.Select(SourceSchemaReader.ReadTables(sqlite), request.Tables);
            var registry = CaptureStore.IsEnabled(sqlite) ? CaptureStore.ReadRegistry(sqlite, null) : new Dictionary<string, RegisteredTable>(Identifiers.SqliteNames);
            var warnings = new List<string>();
            var syncable = new List<(SourceTable Table, RegisteredTable Registry)>();
            Dictionary<string, string>? triggers = null;
            foreach (var table in selected)
            {
                if (table.UnsyncableReason is { } reason)
                {
                    warnings.Add($"Table '{table.Name}' {reason} and is not synced.");
                    continue;
                }

                if (registry.TryGetValue(table.Name, out var known) && known.Loaded && SyncPlanner.SkipReason(table, known) is null
                    && !CaptureStore.CaptureIntact(triggers ??= Triggers(sqlite, out _), known, table))
                {
                    // As the run's Install does: triggers missing or altered (a rebuild that kept the table's definition
                    // text, which the definition check does not see) mean a full copy. The plan said "push 0 inserts, 0
                    // updates, 0 deletes" where the run copied and deleted (today's exploration, F4). This registry is
                    // read for the plan only; nothing is written.
                    known.Loaded = false;
                }

                syncable.Add((table, known ?? RegisteredTable.Unregistered(table)));
            }

            // As a run would: a Newest policy whose column a table lacks fails before anything else.
            SyncEngine.CheckNewestColumn(request, syncable);
            SyncEngine.CheckNodePartitioned(request.NodePartitioned, syncable.Select(s => s.Table));
            var targets = await TargetDatabase.ReadTablesAsync(pg, null, schema, cancellationToken).ConfigureAwait(false);
            var infos = new List<TablePlanInfo>();
            foreach (var (table, registered) in SyncPlanner.ParentsFirst(syncable, s => s.Table))
            {
                TablePlan plan;
                try
                {
                    plan = SyncPlanner.Plan(table, registered, schema, targets, request.PreserveCase, request.Resync,
                        request.NodePartitioned.Count > 0 && SyncPlanner.Matches(table.Name, request.NodePartitioned));
                    plan.NodeId = (RunLog.TableExists(sqlite, "_dbsync_meta") ? CaptureStore.ReadMeta(sqlite, null, "node_id") : null) ?? "";
                }
                catch (DbSyncException ex) when (ex.ErrorId is ErrorIds.SchemaChanged or ErrorIds.ReservedName or ErrorIds.UnknownCollation or ErrorIds.TableTooWide)
                {
                    infos.Add(new TablePlanInfo { Order = infos.Count + 1, Name = table.Name, Target = "", Mode = "Skipped", Reason = ex.Message });
                    continue;
                }

                var mode = plan.Mode;
                if (mode == LoadMode.CopyUpsert && !request.Resync && !await PgWriter.HasRowsAsync(pg, null, schema, plan, cancellationToken).ConfigureAwait(false))
                {
                    mode = LoadMode.CopyDirect;
                }

                long inserts = 0, updates = 0, deletes = 0, rows = 0;
                if (mode == LoadMode.Push)
                {
                    (inserts, updates, deletes) = PendingKinds(sqlite, registered, table);
                }
                else
                {
                    rows = CaptureStore.Scalar<long>(sqlite, null, $"SELECT count(*) FROM {Identifiers.Quote(table.Name)}");
                }

                infos.Add(new TablePlanInfo
                {
                    Order = infos.Count + 1, Name = table.Name, Target = plan.Result.Target, CreateTarget = plan.CreateTarget,
                    Mode = mode switch { LoadMode.CopyDirect => "InitialLoad", LoadMode.CopyUpsert => request.Resync ? "Resync" : "FullCopy", _ => "Push" },
                    PendingInserts = inserts, PendingUpdates = updates, PendingDeletes = deletes, Rows = rows,
                });
            }

            return new SyncPlan { Path = path, Target = TargetDatabase.Describe(builder), Tables = infos, Warnings = warnings };
        }
        catch (SqliteException ex)
        {
            throw SourceDatabase.Translate(ex, path);
        }
    }

    /// <summary>Pending rows by what PostgreSQL will see: new rows, changed rows, deleted rows (an insert then delete is nothing).</summary>
    private static (long Inserts, long Updates, long Deletes) PendingKinds(SqliteConnection sqlite, RegisteredTable registered, SourceTable table)
    {
        using var command = CaptureStore.Command(sqlite, null, $"""
            SELECT coalesce(sum(_dbsync_exists AND _dbsync_op = {CaptureStore.OpInsert}), 0),
                   coalesce(sum(_dbsync_exists AND _dbsync_op <> {CaptureStore.OpInsert}), 0),
                   coalesce(sum(NOT _dbsync_exists AND _dbsync_op <> {CaptureStore.OpInsert}), 0)
            FROM ({CaptureStore.PendingQuery(registered, table)})
            """);
        command.Parameters.AddWithValue("$s", long.MaxValue);
        command.Parameters.AddWithValue("$a", 0L);
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    public static async Task<DatabaseStatus> StatusAsync(StatusRequest request, CancellationToken cancellationToken)
    {
        var path = SourceDatabase.Validate(request.Path);
        var noRunActive = await SyncEngine.NoRunActiveAsync(path, cancellationToken).ConfigureAwait(false);
        bool? reachable = null;
        string? targetError = null, targetErrorId = null;
        var targetCheck = request.ConnectionString is null ? null : CheckTargetAsync(request, cancellationToken);

        DatabaseStatus status;
        // A cancel (Ctrl+C, Stop-Job) ends a wait for another program's lock at once.
        using (var sqlite = SourceDatabase.OpenCancellable(path, TimeSpan.FromSeconds(5), cancellationToken))
        {
            try
            {
                // Status only reads; SQLite refuses any write on this connection.
                CaptureStore.Execute(sqlite, null, "PRAGMA query_only = 1");
                var enabled = CaptureStore.IsEnabled(sqlite);
                var nodeId = RunLog.TableExists(sqlite, "_dbsync_meta") ? CaptureStore.ReadMeta(sqlite, null, "node_id") : null;
                var registry = enabled ? CaptureStore.ReadRegistry(sqlite, null) : new Dictionary<string, RegisteredTable>(Identifiers.SqliteNames);
                var triggers = Triggers(sqlite, out var triggerTables);
                var held = Conflicts.HeldRows.CountByTable(sqlite, null);
                var tables = new List<TableStatus>();
                foreach (var table in SourceSchemaReader.ReadTables(sqlite))
                {
                    registry.TryGetValue(table.Name, out var registered);
                    // Another registration's capture triggers, which SQLite moved here with a renamed table: every write to
                    // this table is also logged into that table's log, which no run sends. The next sync removes them.
                    var foreign = CaptureStore.ForeignTriggers(triggerTables.Where(t => Identifiers.SqliteNames.Equals(t.Value, table.Name)).Select(t => t.Key), registered?.Id ?? -1)
                        .Select(name => registry.Values.FirstOrDefault(r => r.TriggerNames.Contains(name, StringComparer.Ordinal))?.Name).OfType<string>()
                        .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                    var moved = foreign.Count == 0 ? null
                        : $"it carries the capture triggers of {string.Join(", ", foreign.Select(f => $"'{f}'"))} (moved here by a rename), which log its writes into that table's change log; the next sync that captures this table removes them";
                    if (registered is null || !table.HasKey)
                    {
                        var reason = table.UnsyncableReason ?? (enabled ? "not selected for sync yet" : "capture is not enabled");
                        tables.Add(new TableStatus { Path = path, Name = table.Name, Reason = moved is null ? reason : $"{reason}; {moved}" });
                        continue;
                    }

                    // Intact: the insert, update and delete triggers, as this DbSync or an earlier one made them (the next
                    // sync upgrades those in place). The two for REPLACE's removals through a UNIQUE index are missing after
                    // an upgrade or a new index, and the next sync adds them without copying the table.
                    var expected = CaptureStore.TriggerSql(registered, table);
                    var intact = CaptureStore.CaptureIntact(triggers, registered, table);
                    var replaceCaptured = expected.Skip(3).All(t => CaptureStore.IsInstalled(triggers, t));
                    long pending = 0;
                    TimeSpan? lag = null;
                    string? notLoaded = null;
                    if (!registered.Loaded)
                    {
                        // Never copied to PostgreSQL (enabled only, or its first load was stopped): every row waits for the
                        // next sync's full copy, whatever the change log holds, since the table was enabled. Status said
                        // 0 pending for 1.5 million rows PostgreSQL did not have (module exploration, finding 3).
                        using var read = sqlite.BeginTransaction(deferred: true);
                        pending = CaptureStore.Scalar<long>(sqlite, read, $"SELECT count(*) FROM {Identifiers.Quote(table.Name)}");
                        lag = pending > 0 ? EnabledAge(sqlite, read, registered) : null;
                        notLoaded = $"not copied to PostgreSQL yet: the next sync copies its {pending} row(s) in full";
                    }
                    else if (!intact && SyncPlanner.SkipReason(table, registered) is null)
                    {
                        // The triggers are gone (an application's migration rebuilt the table) or altered: what was written
                        // since went unlogged, and the next sync copies every row again. Status said 0 pending while rows
                        // waited (module2 exploration, F3's note), so a monitor saw nothing to send.
                        var logged = RunLog.TableExists(sqlite, registered.LogTable);
                        using var read = sqlite.BeginTransaction(deferred: true);
                        pending = CaptureStore.Scalar<long>(sqlite, read, $"SELECT count(*) FROM {Identifiers.Quote(table.Name)}");
                        // No time is logged for when the triggers went: the oldest logged change, else the last run that
                        // committed, after which the unlogged writes came (lagSeconds was null beside a non-zero count, so a
                        // lag alert never fired: today's exploration, F3).
                        lag = pending > 0 ? (logged ? OldestChangeAge(sqlite, read, registered) : null) ?? LastCommittedRunAge(sqlite, read) : null;
                    }
                    else if (RunLog.TableExists(sqlite, registered.LogTable))
                    {
                        // One snapshot for the count and the age of the oldest change, even while a sync marks changes synced.
                        using var read = sqlite.BeginTransaction(deferred: true);
                        pending = CaptureStore.PendingRows(sqlite, read, registered);
                        lag = pending > 0 ? OldestChangeAge(sqlite, read, registered) : null;
                    }

                    tables.Add(new TableStatus
                    {
                        Path = path, Name = table.Name, Captured = true, TriggersIntact = intact, PendingChanges = pending, Loaded = registered.Loaded,
                        Quarantined = held.GetValueOrDefault(registered.Id), Lag = lag,
                        Reason = SyncPlanner.SkipReason(table, registered) is { } skip ? (moved is null ? skip : $"{skip}; {moved}")
                            : !intact ? "capture triggers are missing or altered; the next sync re-creates them and copies the table in full"
                            : !replaceCaptured ? "the next sync adds the triggers that capture the rows INSERT OR REPLACE and UPDATE OR REPLACE remove through a UNIQUE index (or a primary key compared under NOCASE or RTRIM)"
                            : notLoaded is not null ? (moved is null ? notLoaded : $"{notLoaded}; {moved}")
                            : moved,
                    });
                }

                var captured = tables.Where(t => t.Captured).ToList();
                // A captured table dropped or renamed in SQLite: listed with the changes its log still holds, which no
                // run can send (each run warns of them), and not counted among the rows waiting.
                var existing = tables.Select(t => t.Name).ToHashSet(Identifiers.SqliteNames);
                var vanished = new List<VanishedTable>();
                foreach (var gone in registry.Values.Where(r => !existing.Contains(r.Name)).OrderBy(r => r.Name, StringComparer.Ordinal))
                {
                    var stranded = RunLog.TableExists(sqlite, gone.LogTable) ? CaptureStore.CountLogEntries(sqlite, null, [gone]) : 0;
                    vanished.Add(new VanishedTable(gone.Name, stranded));
                    tables.Add(new TableStatus
                    {
                        Path = path, Name = gone.Name, Captured = true, PendingChanges = stranded, Loaded = gone.Loaded,
                        Reason = $"no longer exists in SQLite (dropped or renamed){(stranded > 0 ? $": its {stranded} logged change(s) are never sent" : "")}; its PostgreSQL table, if any, is left as it is; 'dbsync disable --table' removes its capture",
                    });
                }

                status = new DatabaseStatus
                {
                    Path = path, NodeId = nodeId, CaptureEnabled = enabled, TriggersIntact = captured.All(t => t.TriggersIntact),
                    PendingChanges = captured.Sum(t => t.PendingChanges),
                    Quarantined = captured.Sum(t => t.Quarantined),
                    Lag = captured.Where(t => t.Lag is not null).Select(t => t.Lag).Max(),
                    LastRun = RunLog.Query(sqlite, new LogQuery { Path = path, Last = 1 }, noRunActive, RunLog.BackupPathFor(path, request.BackupPath)).FirstOrDefault(),
                    Tables = request.Detailed ? tables : [],
                    VanishedTables = vanished,
                };
            }
            catch (SqliteException ex)
            {
                throw SourceDatabase.Translate(ex, path);
            }
        }

        if (targetCheck is not null)
        {
            (reachable, targetError, targetErrorId) = await targetCheck.ConfigureAwait(false);
        }

        return new DatabaseStatus
        {
            Path = status.Path, NodeId = status.NodeId, CaptureEnabled = status.CaptureEnabled, TriggersIntact = status.TriggersIntact,
            PendingChanges = status.PendingChanges, Quarantined = status.Quarantined, Lag = status.Lag, LastRun = status.LastRun, Tables = status.Tables,
            VanishedTables = status.VanishedTables, TargetReachable = reachable, TargetError = targetError, TargetErrorId = targetErrorId,
        };
    }

    private static async Task<(bool, string?, string?)> CheckTargetAsync(StatusRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var builder = TargetDatabase.ParseConnectionString(request.ConnectionString, request.Credential);
            builder.Timeout = Math.Max(1, (int)Math.Ceiling(request.TargetTimeout.TotalSeconds));
            builder.CommandTimeout = builder.Timeout;
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(request.TargetTimeout);
            try
            {
                var pg = await TargetDatabase.OpenAsync(builder, limit.Token).ConfigureAwait(false);
                await pg.DisposeAsync().ConfigureAwait(false);
                return (true, null, null);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return (false, $"PostgreSQL at {TargetDatabase.Describe(builder)} did not answer within {request.TargetTimeout.TotalSeconds:0.#} s.", ErrorIds.TargetUnreachable);
            }
        }
        catch (DbSyncException ex)
        {
            return (false, ex.Message, ex.ErrorId);
        }
    }

    /// <summary>How long ago a table was enabled (registered for capture), or null when that time cannot be read.</summary>
    private static TimeSpan? EnabledAge(SqliteConnection sqlite, SqliteTransaction transaction, RegisteredTable registered)
    {
        using var command = CaptureStore.Command(sqlite, transaction, "SELECT enabled_at FROM _dbsync_tables WHERE id = $id");
        command.Parameters.AddWithValue("$id", registered.Id);
        return command.ExecuteScalar() is string at && DateTime.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var when)
            ? DateTime.UtcNow - when
            : null;
    }

    private static TimeSpan? LastCommittedRunAge(SqliteConnection sqlite, SqliteTransaction transaction)
    {
        // _dbsync_runs is made with the rest of the bookkeeping, so a captured table's file has it.
        using var command = CaptureStore.Command(sqlite, transaction, "SELECT max(started_at) FROM _dbsync_runs WHERE status IN ('Succeeded', 'PartiallySucceeded')");
        return command.ExecuteScalar() is string at && DateTime.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var when)
            ? DateTime.UtcNow - when
            : null;
    }

    private static TimeSpan? OldestChangeAge(SqliteConnection sqlite, SqliteTransaction transaction, RegisteredTable registered)
    {
        // A change log of the first DbSync builds (schema version 1) has no `at` until a writing command upgrades the
        // file; status only reads, so it shows no age rather than failing (upgrade exploration, F6).
        if (CaptureStore.Scalar<long>(sqlite, transaction, $"SELECT count(*) FROM pragma_table_info('{registered.LogTable}') WHERE name = 'at'") == 0)
        {
            return null;
        }

        using var command = CaptureStore.Command(sqlite, transaction, $"SELECT at FROM {Identifiers.Quote(registered.LogTable)} ORDER BY seq LIMIT 1");
        return command.ExecuteScalar() is string at && DateTime.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var when)
            ? DateTime.UtcNow - when
            : null;
    }

    /// <summary>Every trigger of the file, name to CREATE statement, and in <paramref name="tables"/> name to its table.</summary>
    private static Dictionary<string, string> Triggers(SqliteConnection sqlite, out Dictionary<string, string> tables)
    {
        var triggers = new Dictionary<string, string>(StringComparer.Ordinal);
        tables = new Dictionary<string, string>(StringComparer.Ordinal);
        using var command = CaptureStore.Command(sqlite, null, "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'trigger'");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            triggers[reader.GetString(0)] = reader.IsDBNull(1) ? "" : reader.GetString(1);
            tables[reader.GetString(0)] = reader.GetString(2);
        }

        return triggers;
    }

    public static async Task<IReadOnlyList<CheckResult>> TestAsync(ConnectionTestRequest request, string schema, CancellationToken cancellationToken)
    {
        var checks = new List<CheckResult>();
        var tables = SourceChecks(request, checks);
        if (request.ConnectionString is not null)
        {
            await TargetChecksAsync(request, schema, tables, checks, cancellationToken).ConfigureAwait(false);
        }

        return checks;
    }

    private static CheckResult Check(string name, CheckStatus status, string message, string? fix = null, string? target = null, string? errorId = null) =>
        new() { Name = name, Status = status, Message = message, Fix = fix, Target = target, ErrorId = errorId };

    private static List<SourceTable>? SourceChecks(ConnectionTestRequest request, List<CheckResult> checks)
    {
        string path;
        try
        {
            path = SourceDatabase.Validate(request.Path);
            checks.Add(Check("Source.File", CheckStatus.Pass, $"'{path}' exists and is a SQLite database.", target: path));
        }
        catch (DbSyncException ex)
        {
            checks.Add(Check("Source.File", CheckStatus.Fail, ex.Message,
                ex.ErrorId == ErrorIds.SourceNotFound ? "Check the path; DbSync never creates a database." : "Point --path at a SQLite database file.", request.Path, ex.ErrorId));
            return null;
        }

        try
        {
            using var sqlite = SourceDatabase.Open(path, busyTimeoutSeconds: 2);
            try
            {
                using var transaction = sqlite.BeginTransaction(deferred: false);
                transaction.Rollback();
                // SQLite opens a file it may not write read-only without a word, and takes the lock all the same; a run
                // also needs the folder, for its lock file (and SQLite for its journal).
                var problem = SQLitePCL.raw.sqlite3_db_readonly(sqlite.Handle, "main") == 1
                    ? $"'{path}' is read-only for the account that runs DbSync: a sync would fail with DbSync.SourceReadOnly."
                    : FolderProblem(path);
                checks.Add(problem is null
                    ? Check("Source.Writable", CheckStatus.Pass, "The file and its folder can be written, and the file can be locked for writing.", target: path)
                    : Check("Source.Writable", CheckStatus.Fail, problem, "Make the file and its folder writable by the account that runs DbSync.", path, ErrorIds.SourceReadOnly));
            }
            catch (SqliteException ex)
            {
                var error = SourceDatabase.Translate(ex, path);
                checks.Add(Check("Source.Writable", CheckStatus.Fail, error.Message, SourceFix(error.ErrorId, "Make the file and its folder writable by the account that runs DbSync."),
                    path, error.ErrorId));
            }

            // A file a newer DbSync wrote: every sync of it fails, so the preflight must too.
            try
            {
                CaptureStore.CheckNotNewer(sqlite, null);
            }
            catch (DbSyncException ex) when (ex.ErrorId == ErrorIds.NewerSchemaVersion)
            {
                checks.Add(Check("Source.Version", CheckStatus.Fail, ex.Message, "Run a DbSync at least as new as the one that last synced this file.", path, ex.ErrorId));
            }

            // An index under a collation that only the application registers cannot be checked here (SQLite fails the
            // whole PRAGMA, which read as a file that could not be opened): the other tables are checked one by one.
            var indexCollations = new List<(string Table, string Collation)>();
            using (var read = CaptureStore.Command(sqlite, null, """
                SELECT DISTINCT m.name, x.coll FROM sqlite_master AS m, pragma_index_list(m.name) AS l, pragma_index_xinfo(l.name) AS x
                WHERE m.type = 'table' AND upper(x.coll) NOT IN ('BINARY', 'NOCASE', 'RTRIM') ORDER BY m.name
                """))
            using (var reader = read.ExecuteReader())
            {
                while (reader.Read())
                {
                    indexCollations.Add((reader.GetString(0), reader.GetString(1)));
                }
            }

            var uncheckable = indexCollations.Where(c => !SourceSchemaReader.HasCollation(sqlite, null, c.Collation)).Select(c => c.Table).Distinct(StringComparer.Ordinal).ToList();

            var quick = "ok";
            if (uncheckable.Count == 0)
            {
                quick = CaptureStore.Scalar<string>(sqlite, null, "PRAGMA quick_check");
            }
            else
            {
                var all = new List<string>();
                using (var read = CaptureStore.Command(sqlite, null, "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"))
                using (var reader = read.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        all.Add(reader.GetString(0));
                    }
                }

                foreach (var name in all.Where(n => !uncheckable.Contains(n, StringComparer.Ordinal)))
                {
                    quick = CaptureStore.Scalar<string>(sqlite, null, $"PRAGMA quick_check({Identifiers.Quote(name)})");
                    if (quick != "ok")
                    {
                        break;
                    }
                }
            }

            var notChecked = uncheckable.Count == 0 ? ""
                : $" Not checked: {string.Join(", ", uncheckable.Select(n => $"'{n}'"))}, whose indexes use a collation only the application registers.";
            checks.Add(quick == "ok"
                ? Check("Source.Integrity", CheckStatus.Pass, "PRAGMA quick_check found no damage." + notChecked, target: path)
                : Check("Source.Integrity", CheckStatus.Fail, $"PRAGMA quick_check: {quick}", "Restore the file from a backup or recover it with the sqlite3 '.recover' command.", path, ErrorIds.SourceCorrupt));

            var journal = CaptureStore.Scalar<string>(sqlite, null, "PRAGMA journal_mode");
            var network = NetworkFileSystem(path);
            checks.Add(journal.Equals("wal", StringComparison.OrdinalIgnoreCase) && network is not null
                ? Check("Source.JournalMode", CheckStatus.Warning, $"The file is in WAL mode on a network file system ({network}); WAL needs shared memory that network file systems do not provide.",
                    "Move the file to a local disk, or switch it to rollback-journal mode: PRAGMA journal_mode = DELETE.", path)
                : Check("Source.JournalMode", CheckStatus.Pass, $"Journal mode {journal}; a sync waits up to its --busy-timeout (30 s unless set) for locks other programs hold.", target: path));

            var tables = SourceSchemaReader.ReadTables(sqlite);
            var selected = SyncPlanner.Select(tables, request.Tables);
            var keyless = selected.Where(t => !t.HasKey && !t.IsVirtual).Select(t => t.Name).ToList();
            checks.Add(keyless.Count == 0
                ? Check("Source.PrimaryKeys", CheckStatus.Pass, "Every selected table has a primary key.")
                : Check("Source.PrimaryKeys", CheckStatus.Warning, $"Not synced, no primary key: {string.Join(", ", keyless)}.", "Give each table a primary key (a table without one has no stable row identity).", string.Join(", ", keyless)));

            var violations = new List<string>();
            using (var command = CaptureStore.Command(sqlite, null, "SELECT \"table\", rowid, parent FROM pragma_foreign_key_check LIMIT 20"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    violations.Add($"{reader.GetString(0)} rowid {(reader.IsDBNull(1) ? "?" : reader.GetInt64(1).ToString(CultureInfo.InvariantCulture))} -> {reader.GetString(2)}");
                }
            }

            checks.Add(violations.Count == 0
                ? Check("Source.ForeignKeys", CheckStatus.Pass, "No row references a missing parent.")
                : Check("Source.ForeignKeys", CheckStatus.Fail, $"Rows reference missing parents (SQLite does not enforce foreign keys by default; PostgreSQL will): {string.Join("; ", violations)}{(violations.Count == 20 ? "; ..." : "")}.",
                    "Delete or fix the orphan rows (PRAGMA foreign_key_check lists them all).", violations[0].Split(' ')[0], ErrorIds.ForeignKeyViolation));

            // Each kind of bad name fails as sync would: too long ends the run (NameTooLong), a collision is a schema
            // mismatch, a system column's name skips its table (ReservedName). The check carries the gravest one's id.
            var tooLong = new List<string>();
            var collisions = new List<string>();
            var reserved = new List<string>();
            foreach (var table in selected)
            {
                if (!Identifiers.FitsPostgres(table.Name))
                {
                    tooLong.Add($"table '{table.Name}' is longer than 63 bytes");
                }

                tooLong.AddRange(table.Columns.Where(c => !Identifiers.FitsPostgres(c.Name)).Select(c => $"column '{c.Name}' of table '{table.Name}' is longer than 63 bytes"));
                reserved.AddRange(table.Columns.Where(c => SyncPlanner.ReservedColumnName(Identifiers.ToTargetName(c.Name, request.PreserveCase)) is not null)
                    .Select(c => $"column '{c.Name}' of table '{table.Name}': {SyncPlanner.ReservedColumnName(Identifiers.ToTargetName(c.Name, request.PreserveCase))} (the table is skipped)"));
                collisions.AddRange(table.Columns.GroupBy(c => c.Name.ToLowerInvariant()).Where(g => g.Count() > 1)
                    .Select(g => $"columns {string.Join(" and ", g.Select(c => $"'{c.Name}'"))} of table '{table.Name}' collide once lower-cased"));
            }

            collisions.AddRange(selected.GroupBy(t => t.Name.ToLowerInvariant()).Where(g => g.Count() > 1)
                .Select(g => $"tables {string.Join(" and ", g.Select(t => $"'{t.Name}'"))} collide once lower-cased"));
            var badNames = tooLong.Concat(collisions).Concat(reserved).ToList();
            var namesErrorId = tooLong.Count > 0 ? ErrorIds.NameTooLong : collisions.Count > 0 ? ErrorIds.SchemaMismatch : ErrorIds.ReservedName;
            checks.Add(badNames.Count == 0
                ? Check("Source.Names", CheckStatus.Pass, "Every table and column name fits PostgreSQL.")
                : Check("Source.Names", CheckStatus.Fail, string.Join("; ", badNames) + ".",
                    collisions.Count > 0 ? "Rename them in SQLite, or use --preserve-case for case collisions." : "Rename them in SQLite.", errorId: namesErrorId));

            // Only as a Fail: a key under a collation only the application registers skips its table, as sync would.
            var unknownCollations = selected.Where(t => t.UnknownKeyCollation is not null).ToList();
            if (unknownCollations.Count > 0)
            {
                checks.Add(Check("Source.Collations", CheckStatus.Fail,
                    string.Join(" ", unknownCollations.Select(t => SyncPlanner.UnknownCollationMessage(t.Name, t.UnknownKeyCollation!.Value.Column, t.UnknownKeyCollation.Value.Collation))),
                    "Declare the key column with a built-in collation (BINARY, NOCASE or RTRIM) in SQLite, or leave the table out with --table.",
                    unknownCollations[0].Name, ErrorIds.UnknownCollation));
            }

            // Only as a Fail: a table wider than a push's staging can hold is skipped, as sync would.
            var tooWide = selected.Where(t => SyncPlanner.TooWide(t) is not null).ToList();
            if (tooWide.Count > 0)
            {
                checks.Add(Check("Source.Columns", CheckStatus.Fail, string.Join(" ", tooWide.Select(t => SyncPlanner.TooWide(t))),
                    $"Split the table in SQLite (at most {SyncPlanner.MaxColumns} columns each, on the same key), or leave it out with --table.", tooWide[0].Name, ErrorIds.TableTooWide));
            }

            checks.Add(ValueSample(sqlite, selected.Where(t => t.HasKey && !t.IsVirtual)));
            return selected.Where(t => t.HasKey && !t.IsVirtual).ToList();
        }
        catch (Exception ex) when (ex is SqliteException || (ex is DbSyncException known && known.ErrorId.StartsWith("DbSync.Source", StringComparison.Ordinal)))
        {
            // Opening the file, or a check that reads it, failed.
            var error = ex as DbSyncException ?? SourceDatabase.Translate((SqliteException)ex, path);
            var message = error.ErrorId == ErrorIds.SourceBusy ? $"{error.Message} The checks that read the tables did not run." : error.Message;
            checks.Add(Check("Source.Open", CheckStatus.Fail, message, SourceFix(error.ErrorId, "Check that the file is an intact SQLite database."), path, error.ErrorId));
            return null;
        }
        catch (DbSyncException ex)
        {
            checks.Add(Check("Source.Tables", CheckStatus.Fail, ex.Message, "Check the --table patterns.", ex.Target, ex.ErrorId));
            return null;
        }
    }

    /// <summary>The fix for a failure to use the file: a lock and a permission are not damage.</summary>
    private static string SourceFix(string errorId, string otherwise) => errorId switch
    {
        ErrorIds.SourceBusy => "Another program holds a lock on the file; find it (fuser, lsof), or run again when it is done.",
        ErrorIds.SourceReadOnly => "Make the file and its folder readable and writable by the account that runs DbSync.",
        _ => otherwise,
    };

    /// <summary>
    /// Runs the first 1000 rows of each table through the same conversion a sync uses (<see cref="ValueWriter"/>, into the
    /// types DbSync would create, or those of the existing PostgreSQL columns <paramref name="existing"/> gives) and names
    /// the columns holding values it would refuse, with the first such row and why.
    /// </summary>
    private static CheckResult ValueSample(SqliteConnection sqlite, IEnumerable<SourceTable> tables,
        IReadOnlyDictionary<string, IReadOnlyList<PgType>>? existing = null)
    {
        var findings = new List<string>();
        // The converted values go nowhere: only the refusals count.
        var sink = new CopyWriter(Stream.Null);
        foreach (var table in tables)
        {
            var types = existing is not null && existing.TryGetValue(table.Name, out var found) ? found : table.Columns.Select(c => TypeMapping.Map(c.DeclaredType)).ToList();
            var writers = table.Columns.Select((c, i) => new ValueWriter(table.Name, c.Name, types[i])).ToArray();
            var keys = table.KeyColumns.Select(k => table.Columns.ToList().IndexOf(k)).ToArray();
            var refused = new (long Count, ValueConversionException? First)[writers.Length];
            using (var reader = SourceRows.Open(sqlite,
                $"SELECT {string.Join(", ", table.Columns.Select(c => Identifiers.Quote(c.Name)))} FROM {Identifiers.Quote(table.Name)} LIMIT 1000"))
            {
                string DescribeKey() => "(" + string.Join(", ", keys.Select(k => table.Columns[k].Name + "=" + reader.Describe(k))) + ")";
                Func<string> describeKey = DescribeKey;
                while (reader.Read())
                {
                    sink.StartRow(writers.Length);
                    for (var i = 0; i < writers.Length; i++)
                    {
                        try
                        {
                            if (keys.Contains(i) && reader.Storage(i) == StorageClass.Null)
                            {
                                throw new ValueConversionException(table.Name, table.Columns[i].Name, DescribeKey(), PgWriter.NullKeyReason);
                            }

                            writers[i].Write(reader, i, sink, describeKey);
                        }
                        catch (ValueConversionException ex)
                        {
                            refused[i] = (refused[i].Count + 1, refused[i].First ?? ex);
                            sink.WriteNull();
                        }
                    }
                }
            }

            for (var i = 0; i < writers.Length; i++)
            {
                if (refused[i].First is { } first)
                {
                    findings.Add($"{table.Name}.{table.Columns[i].Name} ({types[i].SqlName}): {refused[i].Count} value(s) in the first 1000 rows cannot be stored exactly, the first in row {first.Key}: {first.Reason}");
                }
            }
        }

        return findings.Count == 0
            ? Check("Source.ValueTypes", CheckStatus.Pass, existing is null
                ? "The values of the first 1000 rows of each table can be stored exactly in the PostgreSQL types DbSync maps them to."
                : "The values of the first 1000 rows of each table can be stored exactly in the PostgreSQL types DbSync maps them to, or in those of the existing PostgreSQL columns.")
            : Check("Source.ValueTypes", CheckStatus.Warning, string.Join("; ", findings) +
                ". A sync holds such rows back (quarantined, until the value or the column type is fixed) while the rest is synced; the run then ends PartiallySucceeded (exit 3). See docs/type-mapping.md.",
                existing is null ? "Fix the values or declare the column with a type that holds them." : "Fix the values, or declare the column (in SQLite, or the existing PostgreSQL column) with a type that holds them.");
    }

    /// <summary>Null when a file can be created in the database's folder (the run's lock file, SQLite's journal), else why not.</summary>
    private static string? FolderProblem(string path) => SourceDatabase.FolderProblem(path) is { } reason
        ? $"The folder of '{path}' cannot be written by the account that runs DbSync ({reason}): a sync needs it for its lock file ('{Bookkeeping.RunLock.LockPathFor(path)}') and SQLite for its journal."
        : null;

    private static string? NetworkFileSystem(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return path.StartsWith(@"\\", StringComparison.Ordinal) ? "UNC path" : null;
        }

        if (!File.Exists("/proc/mounts"))
        {
            return null;
        }

        string? best = null, type = null;
        foreach (var line in File.ReadLines("/proc/mounts"))
        {
            var parts = line.Split(' ');
            if (parts.Length > 2 && path.StartsWith(parts[1], StringComparison.Ordinal) && (best is null || parts[1].Length > best.Length))
            {
                (best, type) = (parts[1], parts[2]);
            }
        }

        return type is "nfs" or "nfs4" or "cifs" or "smb3" or "smbfs" or "fuse.sshfs" or "9p" or "afs" ? type : null;
    }

    private static async Task TargetChecksAsync(ConnectionTestRequest request, string schema, List<SourceTable>? tables, List<CheckResult> checks, CancellationToken cancellationToken)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = TargetDatabase.ParseConnectionString(request.ConnectionString, request.Credential);
        }
        catch (DbSyncException ex)
        {
            checks.Add(Check("Target.ConnectionString", CheckStatus.Fail, ex.Message, "Fix the connection string (https://www.npgsql.org/doc/connection-string-parameters.html).", errorId: ex.ErrorId));
            return;
        }

        builder.Timeout = Math.Max(1, (int)Math.Ceiling(request.TargetTimeout.TotalSeconds));
        // Every check is bounded by the target timeout: the server's own limits (set below) end a statement that waits
        // for a lock or runs too long with an error and keep the session usable; this is the backstop if the server
        // itself does not answer.
        builder.CommandTimeout = builder.Timeout + 2;
        var where = TargetDatabase.Describe(builder);
        checks.Add(Check("Target.ConnectionString", CheckStatus.Pass, $"The connection string is valid and names {where}.", target: where));
        NpgsqlConnection pg;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            limit.CancelAfter(request.TargetTimeout + TimeSpan.FromSeconds(1));
            try
            {
                pg = await TargetDatabase.OpenAsync(builder, limit.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is DbSyncException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                var error = ex as DbSyncException;
                // The server answered, and the TLS handshake failed or it has no TLS: reachable, not encrypted as asked.
                if (error?.InnerException is { } inner && TargetDatabase.TlsFailure(inner) is not null)
                {
                    checks.Add(Check("Target.Reachable", CheckStatus.Pass, $"PostgreSQL at {where} answers.", target: where));
                    checks.Add(Check("Target.Tls", CheckStatus.Fail, error.Message, TargetDatabase.TlsFix, where, error.ErrorId));
                    return;
                }

                // The server answered and refused: a wrong password, no such database, no CONNECT, a connection limit.
                var auth = error?.ErrorId is ErrorIds.AuthenticationFailed or ErrorIds.TargetDatabaseNotFound || error?.InnerException is PostgresException;
                checks.Add(Check("Target.Reachable", auth ? CheckStatus.Pass : CheckStatus.Fail,
                    auth ? $"PostgreSQL at {where} answers." : error?.Message ?? $"PostgreSQL at {where} did not answer within {request.TargetTimeout.TotalSeconds:0.#} s.",
                    auth ? null : "Check host and port, that the server runs and listens there, and firewalls.", where, auth ? null : error?.ErrorId ?? ErrorIds.TargetUnreachable));
                if (auth)
                {
                    checks.Add(Check("Target.Authentication", CheckStatus.Fail, error!.Message,
                        error.InnerException is PostgresException { SqlState: "28000" } hba && hba.MessageText.Contains("pg_hba.conf", StringComparison.Ordinal) ? TargetDatabase.HbaFix(hba.MessageText)
                        : error.ErrorId == ErrorIds.AuthenticationFailed ? "Check the user name and password (-Credential, PGPASSWORD or pgpass) and pg_hba.conf."
                        : error.ErrorId == ErrorIds.TargetDatabaseNotFound ? "Create the database or fix its name."
                        : (error.InnerException as PostgresException)?.SqlState switch
                        {
                            "42501" => $"GRANT CONNECT ON DATABASE {Identifiers.Quote(builder.Database ?? "")} TO {Identifiers.Quote(builder.Username ?? "")};",
                            "53300" => $"Wait for other sessions to end, or raise the limit: ALTER ROLE {Identifiers.Quote(builder.Username ?? "")} CONNECTION LIMIT …; (or the database's, or max_connections).",
                            _ => "See the message: the server answered and refused the session.",
                        },
                        where, error.ErrorId));
                }

                return;
            }
        }

        await using var scope = pg.ConfigureAwait(false);
        checks.Add(Check("Target.Reachable", CheckStatus.Pass, $"PostgreSQL at {where} answers.", target: where));
        checks.Add(Check("Target.Authentication", CheckStatus.Pass, $"Signed in as {builder.Username}.", target: where));
        try
        {
            var limit = ((long)Math.Max(1, request.TargetTimeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
            await ScalarAsync(pg, $"SELECT set_config('lock_timeout', '{limit}', false), set_config('statement_timeout', '{limit}', false)", cancellationToken).ConfigureAwait(false);
            await TargetQueriesAsync(request, schema, tables, checks, pg, builder, where, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (!cancellationToken.IsCancellationRequested && ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            // A privilege a check itself needed and no earlier check named: the server answered at once, so this is no
            // wait (it was reported as one, with a fix that sent the user hunting for locks).
            checks.Add(Check("Target.TablePrivileges", CheckStatus.Fail,
                $"PostgreSQL at {where} refused a check: {ex.MessageText}. A sync needs that privilege too; the remaining checks did not run.",
                $"Grant {builder.Username} what the message names (see the grants in docs/cli.md), then run test again.", where, ErrorIds.PermissionDenied));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (ex is NpgsqlException or TimeoutException or IOException))
        {
            // A check that did not finish in time (a lock another session holds, a server that stopped answering) is a
            // failed check, not a crash: the checks so far stand, the rest did not run.
            checks.Add(Check("Target.Responsive", CheckStatus.Fail,
                Blocked(ex) is { } blocked
                    ? $"A check waited longer than {request.TargetTimeout.TotalSeconds:0.#} s on PostgreSQL at {where}: {blocked}. The remaining checks did not run."
                    : $"PostgreSQL at {where} did not answer a check within {request.TargetTimeout.TotalSeconds:0.#} s ({ex.Message}). The remaining checks did not run.",
                "Find the session that holds the lock (SELECT pid, state, query FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0 …), wait for it, or raise --target-timeout.",
                where, ErrorIds.TargetError));
        }
    }

    /// <summary>What a check's error says about a wait: a lock or statement timeout, else null.</summary>
    private static string? Blocked(Exception ex) => (ex as PostgresException)?.SqlState switch
    {
        PostgresErrorCodes.LockNotAvailable => $"another session holds a lock it needed ({((PostgresException)ex).MessageText})",
        PostgresErrorCodes.QueryCanceled => $"the statement was cancelled after the time limit ({((PostgresException)ex).MessageText}), most likely waiting for a lock another session holds",
        _ => null,
    };

    /// <summary>The database's encoding: UTF8 holds every character; another one holds back text with characters it lacks.</summary>
    internal static CheckResult EncodingCheck(string encoding, string? database, string where)
    {
        const string fix = "Sync into a database created with ENCODING 'UTF8': CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0.";
        return encoding switch
        {
            "UTF8" or "" => Check("Target.Encoding", CheckStatus.Pass, $"Database '{database}' is in UTF8, which holds every character.", target: where),
            "SQL_ASCII" => Check("Target.Encoding", CheckStatus.Warning,
                $"Database '{database}' is in SQL_ASCII: PostgreSQL stores text as the bytes it is sent, without checking them, and converts none of it for its clients. DbSync sends UTF-8, which programs reading the database must expect.",
                fix, where),
            _ when ServerEncoding.IsSupported(encoding) => Check("Target.Encoding", CheckStatus.Warning,
                $"Database '{database}' is in {encoding}, which lacks most characters: a row whose text has one it lacks is held back (quarantined, as for any value PostgreSQL cannot hold; docs/type-mapping.md) while the rest is synced.",
                fix, where),
            _ => Check("Target.Encoding", CheckStatus.Fail, ServerEncoding.UnsupportedMessage(encoding).Replace(" Nothing was written.", "", StringComparison.Ordinal), fix, where, ErrorIds.TargetError),
        };
    }

    private static async Task TargetQueriesAsync(ConnectionTestRequest request, string schema, List<SourceTable>? tables, List<CheckResult> checks,
        NpgsqlConnection pg, NpgsqlConnectionStringBuilder builder, string where, CancellationToken cancellationToken)
    {

        var version = pg.PostgreSqlVersion;
        checks.Add(version.Major >= 12
            ? Check("Target.ServerVersion", CheckStatus.Pass, $"PostgreSQL {pg.ServerVersion}.", target: where)
            : Check("Target.ServerVersion", CheckStatus.Warning, $"PostgreSQL {pg.ServerVersion} is older than 12, which DbSync is tested against.", "Upgrade PostgreSQL.", where));

        checks.Add(EncodingCheck(pg.PostgresParameters.TryGetValue("server_encoding", out var encoding) ? encoding : "", pg.Database, where));

        var ssl = (bool?)await ScalarAsync(pg, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", cancellationToken).ConfigureAwait(false) ?? false;
        var local = builder.Host is "localhost" or "127.0.0.1" or "::1" || builder.Host!.StartsWith('/');
        checks.Add(ssl || local
            ? Check("Target.Tls", CheckStatus.Pass, ssl ? "The connection is encrypted (TLS)." : "The connection is not encrypted, but it does not leave this machine.", target: where)
            : Check("Target.Tls", CheckStatus.Warning, "The connection is not encrypted: data and credentials cross the network in clear.", "Add 'SSL Mode=Require' (or VerifyFull) to the connection string and enable ssl on the server.", where));

        var latency = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            await ScalarAsync(pg, "SELECT 1", cancellationToken).ConfigureAwait(false);
            latency.Add(clock.Elapsed.TotalMilliseconds);
        }

        var median = latency.Order().ElementAt(1);
        checks.Add(median < 100
            ? Check("Target.Latency", CheckStatus.Pass, $"Round trip {median:0.0} ms.", target: where)
            : Check("Target.Latency", CheckStatus.Warning, $"Round trip {median:0.0} ms; each run makes a few dozen round trips.", "Run DbSync closer to the server.", where));

        var user = builder.Username;
        // A standby, or default_transaction_read_only for the role or database: every has_*_privilege says yes, and
        // the first write fails.
        var recovery = (bool)(await ScalarAsync(pg, "SELECT pg_is_in_recovery()", cancellationToken).ConfigureAwait(false))!;
        var readOnly = recovery || (string?)await ScalarAsync(pg, "SELECT current_setting('transaction_read_only')", cancellationToken).ConfigureAwait(false) == "on";
        checks.Add(readOnly
            ? Check("Target.Writable", CheckStatus.Fail,
                $"PostgreSQL at {where} accepts no writes from {user}: {(recovery ? "the server is a standby (in recovery)" : "default_transaction_read_only is on for the role or the database")}.",
                recovery ? "Connect to the primary server." : $"As an administrator: ALTER ROLE {Identifiers.Quote(user ?? "")} SET default_transaction_read_only = off; (or ALTER DATABASE {Identifiers.Quote(pg.Database ?? "")} SET …)",
                where, ErrorIds.PermissionDenied)
            : Check("Target.Writable", CheckStatus.Pass, $"PostgreSQL at {where} accepts writes.", target: where));

        // Every push stages its changes in temporary tables; REVOKE TEMPORARY ... FROM PUBLIC is a common hardening step.
        var mayTemp = (bool)(await ScalarAsync(pg, "SELECT has_database_privilege(current_database(), 'TEMPORARY')", cancellationToken).ConfigureAwait(false))!;
        checks.Add(mayTemp
            ? Check("Target.TempTables", CheckStatus.Pass, $"{user} may create temporary tables, in which pushes stage their changes.", target: where)
            : Check("Target.TempTables", CheckStatus.Fail, $"{user} may not create temporary tables in database '{pg.Database}': every push after the first load stages its changes in them.",
                $"GRANT TEMPORARY ON DATABASE {Identifiers.Quote(pg.Database ?? "")} TO {Identifiers.Quote(user ?? "")};", where, ErrorIds.PermissionDenied));

        // Found as sync finds it: an existing schema whose name differs only in case is the one meant.
        try
        {
            var found = await TargetDatabase.ResolveSchemaAsync(pg, schema, request.PreserveCase, cancellationToken).ConfigureAwait(false);
            if (found != schema)
            {
                checks.Add(Check("Target.Schema", CheckStatus.Pass,
                    $"No schema is named '{schema}'; {Identifiers.Quote(found)} is, in another case, and the tables go there (found as tables are).", target: found));
                schema = found;
            }
        }
        catch (DbSyncException ex) when (ex.ErrorId == ErrorIds.UsageError)
        {
            checks.Add(Check("Target.Schema", CheckStatus.Fail, ex.Message, "Give the exact name with --preserve-case, or rename one of the schemas.", schema, ex.ErrorId));
        }

        var schemaExists = (long)(await ScalarAsync(pg, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", cancellationToken, schema).ConfigureAwait(false))! > 0;
        // Without USAGE on the schema every name in it is out of reach, created or not: the first check that named a
        // table failed with 42501, reported as a lock wait.
        var schemaUsable = !schemaExists || (bool)(await ScalarAsync(pg, "SELECT has_schema_privilege($1, 'USAGE')", cancellationToken, schema).ConfigureAwait(false))!;
        if (!schemaUsable)
        {
            checks.Add(Check("Target.TablePrivileges", CheckStatus.Fail,
                $"{user} may not use schema '{schema}' (no USAGE on it): a sync can neither read nor write any table in it.",
                $"GRANT USAGE ON SCHEMA {Identifiers.Quote(schema)} TO {Identifiers.Quote(user ?? "")};", schema, ErrorIds.PermissionDenied));
        }

        var targets = await TargetDatabase.ReadTablesAsync(pg, null, schema, cancellationToken).ConfigureAwait(false);
        // Only tables that do not exist yet need CREATE; a role that writes tables an administrator made needs none. An
        // existing table is found as the planner finds it: by exact name, else case-insensitively ("Parent" for parent).
        var missing = tables?.Where(t => !targets.Values.Any(e => e.NotATable is null
                && string.Equals(e.Name, Identifiers.ToTargetName(t.Name, request.PreserveCase), StringComparison.OrdinalIgnoreCase)))
            .Select(t => t.Name).ToList();
        var canCreate = missing is { Count: 0 } && schemaExists || (schemaExists
            ? (bool)(await ScalarAsync(pg, "SELECT has_schema_privilege($1, 'CREATE')", cancellationToken, schema).ConfigureAwait(false))!
            : (bool)(await ScalarAsync(pg, "SELECT has_database_privilege(current_database(), 'CREATE')", cancellationToken).ConfigureAwait(false))!);
        // New tables (and their keys' indexes) go into default_tablespace, which a DBA may set for the role or the
        // database to a tablespace the role may not create in.
        var tablespace = canCreate && !(missing is { Count: 0 } && schemaExists)
            ? (string?)await ScalarAsync(pg,
                "SELECT spcname FROM pg_tablespace WHERE spcname = current_setting('default_tablespace') AND NOT has_tablespace_privilege(oid, 'CREATE') " +
                // PostgreSQL asks no privilege for the database's own tablespace, named or not.
                "AND oid <> (SELECT dattablespace FROM pg_database WHERE datname = current_database())",
                cancellationToken).ConfigureAwait(false)
            : null;
        var toCreate = missing is null ? "" : $" ({missing.Count} table(s) to create: {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", …" : "")})";
        checks.Add(tablespace is not null
            ? Check("Target.CreatePermission", CheckStatus.Fail,
                $"{user} may not create tables in tablespace '{tablespace}', the default_tablespace of its sessions (set for the role or the database), where new tables go{toCreate}.",
                $"GRANT CREATE ON TABLESPACE {Identifiers.Quote(tablespace)} TO {Identifiers.Quote(user ?? "")}; (or ALTER ROLE {Identifiers.Quote(user ?? "")} SET default_tablespace = '' to use the database's)", schema, ErrorIds.PermissionDenied)
            : canCreate
            ? Check("Target.CreatePermission", CheckStatus.Pass, missing is { Count: 0 } && schemaExists
                ? $"Every synced table exists in schema '{schema}': nothing needs creating."
                : $"{user} may create tables in schema '{schema}'{(schemaExists ? "" : " (the schema will be created)")}{toCreate}.", target: schema)
            : Check("Target.CreatePermission", CheckStatus.Fail, $"{user} may not create {(schemaExists ? $"tables in schema '{schema}'" : $"schema '{schema}'")}{toCreate}.",
                schemaExists ? $"GRANT CREATE ON SCHEMA {Identifiers.Quote(schema)} TO {Identifiers.Quote(user ?? "")};" : $"GRANT CREATE ON DATABASE {Identifiers.Quote(pg.Database ?? "")} TO {Identifiers.Quote(user ?? "")}; or create the schema first.", schema, ErrorIds.PermissionDenied));

        // DbSync's own tables: each one that exists must be readable and writable; one that does not, creatable (CREATE
        // on schema dbsync, or on the database while the schema does not exist); and a conflict's id comes from a sequence.
        var ownTables = new[] { "runs", "nodes", "node_txns", "conflicts" };
        var dbsyncSchema = (long)(await ScalarAsync(pg, "SELECT count(*) FROM pg_namespace WHERE nspname = 'dbsync'", cancellationToken).ConfigureAwait(false))! > 0;
        var mayCreateOwn = dbsyncSchema
            ? (bool)(await ScalarAsync(pg, "SELECT has_schema_privilege('dbsync', 'CREATE')", cancellationToken).ConfigureAwait(false))!
            : (bool)(await ScalarAsync(pg, "SELECT has_database_privilege(current_database(), 'CREATE')", cancellationToken).ConfigureAwait(false))!;
        var ownProblems = new List<string>();
        var ownFixes = new List<string>();
        var absent = new List<string>();
        // Without USAGE on the schema even looking its tables up is denied.
        var usable = !dbsyncSchema || (bool)(await ScalarAsync(pg, "SELECT has_schema_privilege('dbsync', 'USAGE')", cancellationToken).ConfigureAwait(false))!;
        if (!usable)
        {
            ownProblems.Add("schema dbsync may not be used (no USAGE on it)");
            ownFixes.Add($"GRANT USAGE ON SCHEMA dbsync TO {Identifiers.Quote(user ?? "")}; (and SELECT, INSERT, UPDATE on its tables, USAGE on dbsync.conflicts_id_seq)");
        }

        foreach (var name in usable ? ownTables : [])
        {
            var state = (string?)await ScalarAsync(pg,
                "SELECT CASE WHEN to_regclass($1) IS NULL THEN 'absent' " +
                "WHEN has_table_privilege($1, 'SELECT') AND has_table_privilege($1, 'INSERT') AND has_table_privilege($1, 'UPDATE') THEN 'ok' ELSE 'denied' END",
                cancellationToken, "dbsync." + name).ConfigureAwait(false);
            if (state == "absent")
            {
                absent.Add(name);
            }
            else if (state == "denied")
            {
                ownProblems.Add($"dbsync.{name} may not be read and written");
                ownFixes.Add($"GRANT SELECT, INSERT, UPDATE ON dbsync.{name} TO {Identifiers.Quote(user ?? "")};");
            }
        }

        if (absent.Count > 0 && !mayCreateOwn)
        {
            ownProblems.Add($"dbsync.{string.Join(", dbsync.", absent)} {(absent.Count == 1 ? "does" : "do")} not exist and may not be created");
            ownFixes.Add(dbsyncSchema
                ? $"GRANT CREATE ON SCHEMA dbsync TO {Identifiers.Quote(user ?? "")}; (or let an administrator create the tables and grant SELECT, INSERT, UPDATE on them)"
                : $"CREATE SCHEMA dbsync AUTHORIZATION {Identifiers.Quote(user ?? "")}; (or let an administrator create the tables and grant SELECT, INSERT, UPDATE on them, and USAGE on the schema and on dbsync.conflicts_id_seq)");
        }

        if (usable && dbsyncSchema && !absent.Contains("conflicts")
            && await ScalarAsync(pg, "SELECT pg_get_serial_sequence('dbsync.conflicts', 'id')", cancellationToken).ConfigureAwait(false) is string idSequence
            && !(bool)(await ScalarAsync(pg, "SELECT has_sequence_privilege($1, 'USAGE')", cancellationToken, idSequence).ConfigureAwait(false))!)
        {
            ownProblems.Add($"the first conflict could not be recorded: no USAGE on {idSequence}");
            ownFixes.Add($"GRANT USAGE ON SEQUENCE {idSequence} TO {Identifiers.Quote(user ?? "")};");
        }

        var canLog = ownProblems.Count == 0;
        // dbsync.nodes from an older DbSync lacks 'snapshots', which a run adds unless the role does not own the table.
        var lacksSnapshots = canLog && (bool)(await ScalarAsync(pg,
            "SELECT coalesce(to_regclass('dbsync.nodes') IS NOT NULL " +
            $"AND NOT {Conflicts.ConflictStore.NodesHaveSnapshots} " +
            "AND NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = to_regclass('dbsync.nodes')), 'USAGE'), false)", cancellationToken).ConfigureAwait(false))!;
        checks.Add(lacksSnapshots
            ? Check("Target.DbSyncSchema", CheckStatus.Warning,
                $"dbsync.nodes was created by an older DbSync and lacks the column 'snapshots', which {user} may not add: syncs work, with a warning, but the run after one whose PostgreSQL commit the file never recorded may report rows that run deleted as DeletedInTarget conflicts.",
                "ALTER TABLE dbsync.nodes ADD COLUMN snapshots jsonb; (as the table's owner)", "dbsync")
            : canLog
            ? Check("Target.DbSyncSchema", CheckStatus.Pass, "DbSync's own tables in schema dbsync (runs, nodes, node_txns, conflicts) can be created or written.")
            : Check("Target.DbSyncSchema", CheckStatus.Fail, $"DbSync's own tables in schema dbsync, which every sync needs for node identity, conflicts and the run log: {string.Join("; ", ownProblems)}.",
                string.Join(" ", ownFixes.Distinct()), "dbsync", ErrorIds.PermissionDenied));

        // A session that starts as a replica (the role's or the database's setting) and may not be set back: PostgreSQL
        // would check no foreign key and fire no trigger for the run's writes, so sync refuses it (TargetDatabase.OpenAsync
        // has set it back to origin when the role may).
        var replication = (string)(await ScalarAsync(pg, "SELECT current_setting('session_replication_role')", cancellationToken).ConfigureAwait(false))!;
        if (replication != "origin")
        {
            checks.Add(Check("Target.ForeignKeyChecks", CheckStatus.Fail,
                $"Sessions of {builder.Username} start with session_replication_role = {replication} (set for the role or the database), under which PostgreSQL checks no foreign key and fires no trigger, and {builder.Username} may not set it back to origin: sync refuses to write so.",
                TargetDatabase.ReplicationRoleFix(builder.Username), where, ErrorIds.PermissionDenied));
        }
        else
        {
            // A push checks its foreign keys once per key only when the role may set session_replication_role (docs/capture.md).
            var withKeys = tables?.Where(t => t.ForeignKeys.Count > 0).Select(t => t.Name).ToList() ?? [];
            var mayBatch = (bool)(await ScalarAsync(pg, "SELECT rolsuper" + (version.Major >= 15 ? " OR has_parameter_privilege('session_replication_role', 'SET')" : "") +
                " FROM pg_roles WHERE rolname = current_user", cancellationToken).ConfigureAwait(false))!;
            checks.Add(mayBatch || withKeys.Count == 0
                ? Check("Target.ForeignKeyChecks", CheckStatus.Pass, mayBatch
                    ? "Pushes may check foreign keys themselves, one statement per key (the role may set session_replication_role)."
                    : "No synced table has a foreign key.")
                : Check("Target.ForeignKeyChecks", CheckStatus.Warning,
                    $"{builder.Username} may not set session_replication_role, so pushes into tables with foreign keys ({string.Join(", ", withKeys)}) leave the checks to PostgreSQL's triggers, one query per row at the COMMIT (about 14 µs a row): correct, but slower for large pushes.",
                    version.Major >= 15
                        ? $"GRANT SET ON PARAMETER session_replication_role TO {Identifiers.Quote(builder.Username ?? "")}; (as a superuser)"
                        : "Only a superuser may set it before PostgreSQL 15; nothing to do unless large pushes are too slow.",
                    withKeys[0]));
        }

        if (tables is null)
        {
            return;
        }

        // Planned as a run would plan them: with what the file's registry remembers (a column added in SQLite since the
        // last run is added to the PostgreSQL table, not a mismatch).
        // One connection to the file for the checks below (its registry, and each key's largest value); it holds no lock.
        using var sqlite = SourceDatabase.Open(SourceDatabase.Validate(request.Path), busyTimeoutSeconds: 2);
        var registry = CaptureStore.IsEnabled(sqlite) ? CaptureStore.ReadRegistry(sqlite, null) : new Dictionary<string, RegisteredTable>(Identifiers.SqliteNames);

        // A reset-node without --connection left node ids for the next sync to release, with a DELETE on dbsync.nodes
        // that no other sync needs; a sync that may not warns and leaves them claimed (Conflicts.NodeIdentity).
        if (canLog && CaptureStore.IsEnabled(sqlite) && Conflicts.NodeIdentity.PendingReleases(sqlite) is { Count: > 0 } releases
            && !(bool)(await ScalarAsync(pg, "SELECT CASE WHEN to_regclass('dbsync.nodes') IS NULL THEN true ELSE has_table_privilege('dbsync.nodes', 'DELETE') END", cancellationToken).ConfigureAwait(false))!)
        {
            checks.Add(Check("Target.DbSyncSchema", CheckStatus.Warning,
                $"This file's node id(s) {string.Join(", ", releases)} from before a reset-node without --connection are released by its next sync, which needs DELETE on dbsync.nodes, and {user} lacks it: syncs work, with a warning, and leave the id(s) claimed, so the file this one was copied from is refused (DbSync.DuplicateNodeId) meanwhile.",
                $"GRANT DELETE ON dbsync.nodes TO {Identifiers.Quote(user ?? "")};", "dbsync", ErrorIds.PermissionDenied));
        }

        // Other sessions' locks on this schema's tables, read first: the largest-key read of Target.Sequences would wait the
        // whole target timeout behind a lock that blocks reading, only to report what Target.Locks says at once.
        var locked = new Dictionary<string, (string Modes, string Pids, bool BlocksReads)>(StringComparer.Ordinal);
        if (schemaExists && schemaUsable)
        {
            using var locks = new NpgsqlCommand("""
                SELECT c.relname, string_agg(DISTINCT format('%s by process %s', l.mode, l.pid), ', '), array_agg(DISTINCT l.pid),
                    bool_or(l.mode = 'AccessExclusiveLock')
                FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation
                WHERE l.granted AND l.pid <> pg_backend_pid() AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
                    AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p')
                GROUP BY c.relname
                """, pg);
            locks.Parameters.AddWithValue(schema);
            using var reader = await locks.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                locked[reader.GetString(0)] = (reader.GetString(1), string.Join(", ", reader.GetFieldValue<int[]>(2)), reader.GetBoolean(3));
            }
        }

        var compatible = 0;
        // Existing columns narrower than the types DbSync maps to (timestamp(0), varchar(3), numeric(6,2), integer): the
        // value check is made again with them, since a sync holds back what they cannot hold exactly.
        var narrower = new Dictionary<string, IReadOnlyList<PgType>>(Identifiers.SqliteNames);
        var plans = new Dictionary<string, TablePlan>(Identifiers.SqliteNames);
        foreach (var table in tables)
        {
            var registered = registry.TryGetValue(table.Name, out var known) ? known : RegisteredTable.Unregistered(table);
            TablePlan plan;
            try
            {
                plan = SyncPlanner.Plan(table, registered, schema, targets, request.PreserveCase, resync: false);
                plans[table.Name] = plan;
                compatible++;
            }
            catch (DbSyncException ex) when (ex.ErrorId == ErrorIds.UnknownCollation)
            {
                // Source.Collations names it: nothing in PostgreSQL is to change.
                continue;
            }
            catch (DbSyncException ex)
            {
                checks.Add(Check("Target.Compatibility", CheckStatus.Fail, ex.Message, "Change the PostgreSQL table to match, or sync into another schema (--schema).", table.Name, ex.ErrorId));
                continue;
            }

            if (plan.CreateTarget || !schemaUsable)
            {
                // Without USAGE on the schema any name in it fails to resolve; Target.TablePrivileges has said so.
                continue;
            }

            if (table.Columns.Where((c, i) => TypeMapping.Map(c.DeclaredType) != plan.TargetTypes[i]).Any())
            {
                narrower[table.Name] = plan.TargetTypes;
            }

            var target = Identifiers.Quote(schema, plan.TargetName);
            // The row privileges a run uses, in one round trip: those the role lacks, in this order.
            if (await ScalarAsync(pg,
                "SELECT string_agg(p, ', ' ORDER BY o) FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) WITH ORDINALITY AS u(p, o) WHERE NOT has_table_privilege($1, p)",
                cancellationToken, target).ConfigureAwait(false) is string lacking)
            {
                checks.Add(Check("Target.TablePrivileges", CheckStatus.Fail,
                    $"{user} may not {lacking} {target}, which a run needs (it reads, inserts, updates and deletes the rows of the changes it pushes).",
                    $"GRANT SELECT, INSERT, UPDATE, DELETE ON {target} TO {Identifiers.Quote(user ?? "")};", table.Name, ErrorIds.PermissionDenied));
            }

            // A DBA's trigger, rule or row security can store a row otherwise than sent, or skip it, without an error: a
            // sync then holds back every such row, run after run (docs/capture.md). test passed such a table in silence
            // (target exploration, F5), and the first sync's held rows were the first word of it.
            if (plan.Verify && await ScalarAsync(pg, """
                SELECT string_agg(w, ', ' ORDER BY o, w) FROM (
                    SELECT 1, format('trigger %I', t.tgname) FROM pg_trigger AS t WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal AND t.tgenabled <> 'D'
                    UNION ALL SELECT 2, format('rule %I', r.rulename) FROM pg_rewrite AS r WHERE r.ev_class = $1::regclass AND r.rulename <> '_RETURN' AND r.ev_enabled <> 'D'
                    UNION ALL SELECT 3, CASE WHEN c.relforcerowsecurity THEN 'row-level security (forced)' ELSE 'row-level security' END
                        FROM pg_class AS c WHERE c.oid = $1::regclass AND c.relrowsecurity) AS x (o, w)
                """, cancellationToken, target).ConfigureAwait(false) is string objects)
            {
                checks.Add(Check("Target.Compatibility", CheckStatus.Warning,
                    $"{target} has {objects}: PostgreSQL may store a pushed row otherwise than sent, or not at all, without an error. Each sync compares the rows it wrote and holds back (quarantines) any such row, which stays pending and is tried again every run; one that changes a synced column holds back every row it changes, run after run.",
                    "Make sure they leave the synced columns as DbSync writes them (filling columns SQLite does not have is fine) and skip no row; 'dbsync quarantine' lists what was held back (docs/capture.md, Target tables with triggers, rules or row security).",
                    table.Name));
            }

            // A column PostgreSQL fills for DbSync's inserts (an administrator's serial or DEFAULT nextval(...)) needs
            // USAGE on its sequence, which GRANT ... ON ALL TABLES does not give; identity columns need none.
            if (await ScalarAsync(pg, """
                SELECT string_agg(DISTINCT s.oid::regclass::text, ', ')
                FROM pg_attrdef AS ad
                JOIN pg_attribute AS a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                JOIN pg_depend AS d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
                JOIN pg_class AS s ON s.oid = d.refobjid AND d.refobjsubid = 0
                -- CASE, since PostgreSQL may call has_sequence_privilege before the other conditions, and it fails on a table
                WHERE ad.adrelid = $1::regclass AND NOT a.attname = ANY($2) AND CASE WHEN s.relkind = 'S' THEN NOT has_sequence_privilege(s.oid, 'USAGE') ELSE false END
                """, cancellationToken, target, plan.TargetColumns.Append(plan.NodeColumn ?? "").ToArray()).ConfigureAwait(false) is string sequences)
            {
                checks.Add(Check("Target.TablePrivileges", CheckStatus.Fail,
                    $"{user} may not use sequence(s) {sequences}, which the default of a column of {target} that SQLite does not have draws from: every insert a run makes into {target} would fail.",
                    $"GRANT USAGE ON SEQUENCE {sequences} TO {Identifiers.Quote(user ?? "")};", table.Name, ErrorIds.PermissionDenied));
            }

            if (plan.AddColumns.Count > 0
                && !(bool)(await ScalarAsync(pg, "SELECT pg_has_role((SELECT relowner FROM pg_class WHERE oid = $1::regclass), 'USAGE')", cancellationToken, target).ConfigureAwait(false))!)
            {
                var added = plan.AddColumns.Select(i => $"{Identifiers.Quote(plan.TargetColumns[i])} {plan.TargetTypes[i].SqlName}").ToList();
                checks.Add(Check("Target.Compatibility", CheckStatus.Fail,
                    $"Table '{table.Name}': {(added.Count == 1 ? "a column was" : "columns were")} added in SQLite since it was last synced ({string.Join(", ", plan.AddColumns.Select(i => table.Columns[i].Name))}); a run adds {(added.Count == 1 ? "it" : "them")} to {target}, which only the table's owner may do, and {user} is not.",
                    $"As the owner of {target}: {string.Join(" ", added.Select(a => $"ALTER TABLE {target} ADD COLUMN {a};"))}", table.Name, ErrorIds.PermissionDenied));
                compatible--;
            }

            for (var i = 0; i < table.Columns.Count; i++)
            {
                var mapped = TypeMapping.Map(table.Columns[i].DeclaredType);
                if (mapped.Kind == PgKind.Timestamp && plan.TargetTypes[i].Kind == PgKind.TimestampTz)
                {
                    checks.Add(Check("Target.TimeZones", CheckStatus.Warning,
                        $"{table.Name}.{table.Columns[i].Name} is a timestamp without zone in SQLite but {plan.TargetColumns[i]} is timestamp with time zone in PostgreSQL: values without an offset are taken as UTC.",
                        "Store UTC (or an offset) in SQLite, or make the PostgreSQL column timestamp without time zone.", table.Name));
                }
                else if (mapped.Kind == PgKind.TimestampTz && plan.TargetTypes[i].Kind == PgKind.Timestamp)
                {
                    checks.Add(Check("Target.TimeZones", CheckStatus.Warning,
                        $"{table.Name}.{table.Columns[i].Name} carries time zones in SQLite but {plan.TargetColumns[i]} is timestamp without time zone in PostgreSQL: values are stored as their UTC instant.",
                        "Make the PostgreSQL column timestamp with time zone.", table.Name));
                }
            }

            if (table.KeyColumns.Count == 1 && plan.TargetTypes[plan.IndexOf(table.KeyColumns[0].Name)].Kind is PgKind.Int16 or PgKind.Int32 or PgKind.Int64)
            {
                var key = plan.TargetKeyColumns.Single();
                var qualified = Identifiers.Quote(schema, plan.TargetName);
                var sequence = (string?)await ScalarAsync(pg, "SELECT pg_get_serial_sequence($1, $2)", cancellationToken, qualified, key).ConfigureAwait(false);
                long? readable = null;
                if (sequence is not null)
                {
                    try
                    {
                        readable = (long?)await ScalarAsync(pg, "SELECT pg_sequence_last_value($1::regclass)", cancellationToken, sequence).ConfigureAwait(false) ?? 0;
                    }
                    catch (PostgresException ex) when (ex.SqlState == "42501")
                    {
                        checks.Add(Check("Target.Sequences", CheckStatus.Warning, $"Sequence {sequence} of {qualified}.{key} cannot be read by {builder.Username}: {ex.MessageText}.",
                            $"GRANT SELECT, UPDATE ON SEQUENCE {sequence} TO {Identifiers.Quote(builder.Username ?? "")};", table.Name, ErrorIds.PermissionDenied));
                    }
                }

                // Behind a lock that blocks reading, the largest key cannot be read until it is released: Target.Locks names it.
                var unreadable = locked.TryGetValue(plan.TargetName, out var held) && held.BlocksReads;
                if (sequence is not null && readable is { } last && !unreadable)
                {
                    var sourceMax = CaptureStore.Scalar<long>(sqlite, null,
                        $"SELECT coalesce(max({Identifiers.Quote(table.KeyColumns[0].Name)}), 0) FROM {Identifiers.Quote(table.Name)}");

                    long targetMax;
                    try
                    {
                        targetMax = (long)(await ScalarAsync(pg, $"SELECT coalesce(max({Identifiers.Quote(key)}), 0)::bigint FROM {qualified}", cancellationToken).ConfigureAwait(false))!;
                    }
                    catch (PostgresException ex) when (Blocked(ex) is { } blocked)
                    {
                        // The one check that reads a table's rows: a lock another session holds on it (LOCK TABLE, VACUUM
                        // FULL, ALTER TABLE, CLUSTER) stops it; a sync would wait for that lock too.
                        checks.Add(Check("Target.Sequences", CheckStatus.Warning,
                            $"The largest key of {qualified} could not be read within {request.TargetTimeout.TotalSeconds:0.#} s: {blocked}. A sync waits for that lock until it is released.",
                            $"Find the session: SELECT pid, state, query FROM pg_stat_activity WHERE pid IN (SELECT pid FROM pg_locks WHERE relation = '{qualified.Replace("'", "''", StringComparison.Ordinal)}'::regclass AND granted); wait for it, or end it.",
                            table.Name, ErrorIds.TargetError));
                        continue;
                    }
                    catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
                    {
                        // No SELECT on the table: Target.TablePrivileges has named it; the other tables are still checked.
                        continue;
                    }

                    // The sync moves the sequence past the largest key after every run, when the role may: a lag only
                    // the file's new keys make is its to repair, and warning of it asked the administrator to do by hand,
                    // before every sync with new rows, what the run does anyway (target exploration, F17).
                    var needed = Math.Max(sourceMax, targetMax);
                    var mayMove = (bool)(await ScalarAsync(pg, $"SELECT has_sequence_privilege('{sequence.Replace("'", "''", StringComparison.Ordinal)}', 'SELECT') AND has_sequence_privilege('{sequence.Replace("'", "''", StringComparison.Ordinal)}', 'UPDATE')", cancellationToken).ConfigureAwait(false))!;
                    if (last < targetMax || last < needed && !mayMove)
                    {
                        checks.Add(Check("Target.Sequences", CheckStatus.Warning,
                            $"Sequence {sequence} of {qualified}.{key} is at {last}, behind the largest key {needed}: an application inserting without a key would collide"
                            + (mayMove ? ". The next sync moves it past the largest key." : $", and {builder.Username} may not move it (it needs SELECT and UPDATE on it), so no sync will."),
                            mayMove ? $"SELECT setval('{sequence}', {needed}); (or run a sync)" : $"GRANT SELECT, UPDATE ON SEQUENCE {sequence} TO {Identifiers.Quote(builder.Username ?? "")}; or SELECT setval('{sequence}', {needed});", table.Name));
                    }
                }
            }
        }

        // Another session's lock that a sync's writes would queue behind: LOCK TABLE, VACUUM FULL, ALTER TABLE, CLUSTER, a
        // CREATE INDEX (SHARE). Read from pg_locks before the tables' checks, so it waits for nothing and needs no privilege
        // (target exploration, F13).
        foreach (var plan in schemaUsable ? plans.Values.Where(p => !p.CreateTarget) : [])
        {
            if (locked.TryGetValue(plan.TargetName, out var lockInfo))
            {
                checks.Add(Check("Target.Locks", CheckStatus.Warning,
                    $"{Identifiers.Quote(schema, plan.TargetName)} is locked by another session ({lockInfo.Modes}): a sync's writes wait for that lock for as long as it is held.",
                    $"Find the session: SELECT pid, usename, state, xact_start, query FROM pg_stat_activity WHERE pid IN ({lockInfo.Pids}); wait for it to finish, or end it (SELECT pg_terminate_backend(pid)).",
                    plan.Source.Name, ErrorIds.TargetError));
            }
        }

        if (narrower.Count > 0 && checks.FindIndex(c => c.Name == "Source.ValueTypes") is var sample and >= 0)
        {
            checks[sample] = ValueSample(sqlite, tables, narrower);
        }

        // A foreign key a run creates from a new table to a table that exists needs REFERENCES on that table, which
        // an administrator who granted SELECT, INSERT, UPDATE, DELETE has not given (the same conditions as
        // SyncEngine.AddForeignKeysAsync: both tables synced, the parent's key referenced, both partitioned or neither).
        foreach (var child in schemaUsable ? plans.Values.Where(p => p.CreateTarget) : [])
        {
            foreach (var fk in child.Source.ForeignKeys)
            {
                if (!plans.TryGetValue(fk.ParentTable, out var parent) || parent.CreateTarget || (child.NodeColumn is null) != (parent.NodeColumn is null))
                {
                    continue;
                }

                var parentColumns = fk.ParentColumns.Count > 0 ? fk.ParentColumns : parent.Source.KeyColumns.Select(k => k.Name).ToList();
                var isKey = parentColumns.Count == parent.Source.KeyColumns.Count && fk.Columns.Count == parentColumns.Count &&
                    parentColumns.All(c => parent.Source.KeyColumns.Any(k => string.Equals(k.Name, c, StringComparison.OrdinalIgnoreCase)));
                var referenced = Identifiers.Quote(schema, parent.TargetName);
                if (isKey && !(bool)(await ScalarAsync(pg, "SELECT has_table_privilege($1, 'REFERENCES')", cancellationToken, referenced).ConfigureAwait(false))!)
                {
                    checks.Add(Check("Target.TablePrivileges", CheckStatus.Fail,
                        $"{user} may not reference {referenced}: a run creates table '{child.TargetName}' with a foreign key to it ({child.Source.Name}({string.Join(", ", fk.Columns)}) -> {fk.ParentTable}), which needs the REFERENCES privilege on {referenced}.",
                        $"GRANT REFERENCES ON {referenced} TO {Identifiers.Quote(user ?? "")};", child.Source.Name, ErrorIds.PermissionDenied));
                }
            }
        }

        if (compatible == tables.Count)
        {
            checks.Add(Check("Target.Compatibility", CheckStatus.Pass, $"All {tables.Count} table(s) are compatible with schema '{schema}' (existing ones match; missing ones will be created)."));
        }
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection pg, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        using var command = new NpgsqlCommand(sql, pg);
        foreach (var parameter in parameters)
        {
            command.Parameters.AddWithValue(parameter);
        }

        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is DBNull ? null : value;
    }
}
