using System.Diagnostics;
using System.Globalization;
using DbSync.Core;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Bench;

/// <summary>Scenario 2's findings.</summary>
internal sealed class PushResult
{
    public const double RateGoal = 80_000;
    public const double BaselineFactorGoal = 10;

    public int Updates { get; set; }

    public int Inserts { get; set; }

    public int Deletes { get; set; }

    public int Changes => Updates + Inserts + Deletes;

    /// <summary>Time to make the changes in SQLite, capture triggers firing.</summary>
    public TimeSpan ApplyTime { get; set; }

    public Outcome DbSync { get; set; } = Outcome.Failed("not run");

    public Outcome RowAtATime { get; set; } = Outcome.Failed("not run");

    /// <summary>
    /// PostgreSQL's floor, a reference and not a product: the same row changes applied set-based from memory (binary
    /// COPY into temporary tables, one UPDATE, INSERT and DELETE per table, no checks of any kind, one transaction).
    /// </summary>
    public Outcome Floor { get; set; } = Outcome.Failed("not run");

    /// <summary>Whether the floor's tables ended equal to DbSync's, or how they differ.</summary>
    public string FloorVerification { get; set; } = "not run";

    public List<TimeSpan> FloorSamples { get; } = [];

    /// <summary>Whether DbSync's target and the row-at-a-time copy ended equal, or how they differ.</summary>
    public string Verification { get; set; } = "not run";

    public List<string> Failures { get; } = [];

    /// <summary>DbSync's push by phase, from its progress reports: where each phase began, in order, then the end.</summary>
    public List<(string Phase, TimeSpan Time)> Phases { get; } = [];

    /// <summary>The row-at-a-time baseline's COMMIT alone: PostgreSQL checking the deferred foreign keys.</summary>
    public TimeSpan? BaselineCommit { get; set; }

    /// <summary>The foreign-key checks the changes queue: each inserted certificate, and each updated one whose keys changed, references a host and a domain.</summary>
    public long ForeignKeyChecks { get; set; }

    /// <summary>One (DbSync, baseline) pair of wall times per repetition, each on a fresh copy of the database and the file.</summary>
    public List<(TimeSpan DbSync, TimeSpan RowAtATime)> Samples { get; } = [];

    /// <summary>Why the push was measured once, in place, rather than on copies; null when it was not.</summary>
    public string? SingleRunReason { get; set; }

    /// <summary>The median of the per-repetition ratios, so that a slow moment of the machine falls on both sides of one ratio.</summary>
    public double? BaselineFactor
    {
        get
        {
            var ratios = Samples.Where(s => s.DbSync > TimeSpan.Zero).Select(s => s.RowAtATime / s.DbSync).Order().ToList();
            return ratios.Count > 0 ? ratios[ratios.Count / 2] : null;
        }
    }

    public IEnumerable<TargetCheck> Targets =>
    [
        new("2. Incremental push rate", $"≥{RateGoal:N0} rows/s",
            DbSync.Value is { } d ? $"{d.RowsPerSecond:N0} rows/s" : $"not measured ({DbSync.Failure})", TargetCheck.Judge(DbSync.Value?.RowsPerSecond, r => r >= RateGoal)),
        new("2. Push vs row-at-a-time upserts", $"≥{BaselineFactorGoal:0}× faster",
            BaselineFactor is { } f ? $"{f:0.0}× faster" : "not measured", TargetCheck.Judge(BaselineFactor, f => f >= BaselineFactorGoal)),
    ];

    public IEnumerable<ChartBar> Bars =>
    [
        new("2 DbSync incremental push", DbSync),
        new("2 row-at-a-time upserts", RowAtATime),
        new("2 PostgreSQL floor", Floor),
    ];
}

/// <summary>
/// Scenario 2: one push of 100k mixed pending changes (60% updates, 30% inserts, 10% deletes, each on a distinct
/// row) made in the loaded SQLite file with capture installed. The baseline sends the same changes one row per
/// round trip (read the row from SQLite, then one upsert or delete) into a copy of the target tables.
/// </summary>
internal sealed class PushScenario(BenchContext context)
{
    private const string BaselineSchema = "bench_rowwise";
    private const string FloorSchema = "bench_floor";
    private static readonly string RunDatabase = $"bench_push_run_{Environment.ProcessId}";
    public const int Repetitions = 3;
    private const int FullChanges = 100_000;

    private enum ChangeKind
    {
        Update,
        Insert,
        Delete,
    }

    private sealed record Change(InventoryTable Table, long Id, ChangeKind Kind);

    public async Task<PushResult> RunAsync(InitialLoadResult load, CancellationToken cancellationToken)
    {
        var result = new PushResult();
        var total = context.Options.Rows(FullChanges);
        result.Updates = total * 6 / 10;
        result.Inserts = total * 3 / 10;
        result.Deletes = total - result.Updates - result.Inserts;
        if (load.LoadedPath is null)
        {
            result.DbSync = Outcome.Failed("not run: the initial load failed");
            result.RowAtATime = Outcome.Failed("not run: the initial load failed");
            result.Failures.Add("DbSync incremental push: not run, the initial load failed");
            return result;
        }

        context.Log("Scenario 2: copying the target tables for the row-at-a-time baseline and the floor");
        await CopyTargetAsync(load.Schema, BaselineSchema, cancellationToken);
        await CopyTargetAsync(load.Schema, FloorSchema, cancellationToken);

        context.Log($"Scenario 2: making {total:N0} changes in SQLite");
        var clock = Stopwatch.StartNew();
        var changes = MakeChanges(load.LoadedPath, load.Size, result);
        result.ApplyTime = clock.Elapsed;
        var floorRows = ReadChangedRows(load.LoadedPath, changes);

        await context.Server.QuiesceAsync(cancellationToken, load.Schema, BaselineSchema, FloorSchema);
        // Each repetition pushes into a fresh copy of the database (CREATE DATABASE … TEMPLATE keeps every row's xmin,
        // so the rows stay this node's) and of the file; one sample on this kind of machine can be a third off.
        var pristine = context.WorkFile("push-pristine.db");
        File.Copy(load.LoadedPath, pristine, overwrite: true);
        var runs = new List<(Outcome DbSync, Outcome RowAtATime, List<(string Phase, TimeSpan Time)> Phases, TimeSpan? Commit)>();
        var floors = new List<Outcome>();
        for (var repetition = 1; repetition <= Repetitions; repetition++)
        {
            var copy = await context.Server.CopyDatabaseAsync(RunDatabase, cancellationToken);
            if (copy.ConnectionString is null)
            {
                if (repetition > 1)
                {
                    context.Log($"Scenario 2: no further repetition: {copy.Failure}");
                    break;
                }

                result.SingleRunReason = copy.Failure;
                context.Log($"Scenario 2: measured once, in place: {copy.Failure}");
            }

            try
            {
                var connectionString = copy.ConnectionString ?? context.ConnectionString;
                var which = copy.ConnectionString is null ? "" : $" ({repetition} of {Repetitions})";
                File.Copy(pristine, load.LoadedPath, overwrite: true);
                await context.Server.QuiesceAsync(cancellationToken);
                context.Log($"Scenario 2: DbSync push{which}");
                var phases = new List<(string Phase, TimeSpan Time)>();
                var pushed = await PushAsync(load.LoadedPath, load.Schema, connectionString, result, phases, cancellationToken);
                if (!pushed.Succeeded)
                {
                    result.DbSync = pushed;
                    result.Failures.Add($"DbSync incremental push: {pushed.Failure}");
                    break;
                }

                context.Log("  by phase: " + string.Join(", ", phases.SkipLast(1).Select((p, i) =>
                    string.Create(CultureInfo.InvariantCulture, $"{p.Phase} {(phases[i + 1].Time - (i == 0 ? TimeSpan.Zero : p.Time)).TotalSeconds:0.00} s"))));
                context.Log($"Scenario 2: row-at-a-time baseline{which}");
                await context.Server.QuiesceAsync(cancellationToken);
                var (baseline, commit) = await RowAtATimeAsync(load.LoadedPath, connectionString, changes, cancellationToken);
                var verification = await CompareAsync(connectionString, load.Schema, cancellationToken);
                if (verification != "equal")
                {
                    result.Verification = verification;
                    result.Failures.Add($"DbSync incremental push: the target differs from the row-at-a-time copy: {verification}");
                }

                runs.Add((pushed, baseline, phases, commit));
                result.Samples.Add((pushed.Value!.Elapsed, baseline.Value!.Elapsed));

                context.Log($"Scenario 2: PostgreSQL's floor{which}");
                await context.Server.QuiesceAsync(cancellationToken);
                var floor = await FloorAsync(connectionString, floorRows, result.Changes, cancellationToken);
                if (!floor.Succeeded)
                {
                    result.Floor = floor;
                    result.Failures.Add($"PostgreSQL floor: {floor.Failure}");
                    continue;
                }

                var floorVerification = await CompareAsync(connectionString, load.Schema, FloorSchema, cancellationToken);
                if (floorVerification != "equal")
                {
                    result.FloorVerification = floorVerification;
                    result.Failures.Add($"PostgreSQL floor: its tables differ from DbSync's: {floorVerification}");
                }

                floors.Add(floor);
                result.FloorSamples.Add(floor.Value!.Elapsed);
            }
            finally
            {
                if (copy.ConnectionString is not null)
                {
                    await context.Server.DropDatabaseAsync(RunDatabase);
                }
            }

            if (copy.ConnectionString is null)
            {
                break;
            }
        }

        if (runs.Count > 0)
        {
            // The repetition whose push took the median time gives the push's figures and phases; the baseline's own median.
            var median = runs.OrderBy(r => r.DbSync.Value!.Elapsed).ElementAt(runs.Count / 2);
            result.DbSync = median.DbSync;
            result.Phases.AddRange(median.Phases);
            var baseline = runs.OrderBy(r => r.RowAtATime.Value!.Elapsed).ElementAt(runs.Count / 2);
            result.RowAtATime = baseline.RowAtATime;
            result.BaselineCommit = baseline.Commit;
            if (result.Verification == "not run")
            {
                result.Verification = "equal";
            }
        }

        if (floors.Count > 0)
        {
            result.Floor = floors.OrderBy(f => f.Value!.Elapsed).ElementAt(floors.Count / 2);
            if (result.FloorVerification == "not run")
            {
                result.FloorVerification = "equal";
            }
        }

        await context.DropSchemaAsync(BaselineSchema, cancellationToken);
        await context.DropSchemaAsync(FloorSchema, cancellationToken);
        return result;
    }

    /// <summary>The baseline's or the floor's tables: same columns, keys, identity and foreign keys as DbSync's, same rows.</summary>
    private async Task CopyTargetAsync(string schema, string copy, CancellationToken cancellationToken)
    {
        await context.DropSchemaAsync(copy, cancellationToken);
        await using var connection = context.Server.Open();
        var foreignKeys = await Pg.ConstraintStatementsAsync(connection, schema, foreignKeysOnly: true, cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Pg.ExecuteAsync(connection, $"CREATE SCHEMA {copy}; SET LOCAL search_path = {copy}", cancellationToken, transaction);
        foreach (var table in Inventory.Tables)
        {
            await Pg.ExecuteAsync(connection,
                $"CREATE TABLE {table.Name} (LIKE {schema}.{table.Name} INCLUDING ALL); INSERT INTO {table.Name} SELECT * FROM {schema}.{table.Name}",
                cancellationToken, transaction);
        }

        foreach (var statement in foreignKeys)
        {
            await Pg.ExecuteAsync(connection, statement, cancellationToken, transaction);
        }

        await Pg.ExecuteAsync(connection, "ANALYZE", cancellationToken, transaction);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Makes the changes in one SQLite transaction, parents first so foreign keys always hold: new hosts and
    /// domains, then new certificates (some referencing the new parents), updates of every table, and deletes of
    /// certificates (deleting a referenced host would break a foreign key). No row is changed twice.
    /// </summary>
    private static List<Change> MakeChanges(string path, InventorySize size, PushResult counts)
    {
        var values = new InventoryValues(BenchContext.Seed + 2, size);
        var changes = new List<Change>(counts.Changes);
        int Share(int of, int percent) => of * percent / 100;
        var hostInserts = Share(counts.Inserts, 10);
        var domainInserts = Share(counts.Inserts, 5);
        var hostUpdates = Math.Min(Share(counts.Updates, 10), size.Hosts);
        var domainUpdates = Math.Min(Share(counts.Updates, 5), size.Domains);
        var inserts = new Dictionary<InventoryTable, int>
        {
            [Inventory.Hosts] = hostInserts,
            [Inventory.Domains] = domainInserts,
            [Inventory.Certificates] = counts.Inserts - hostInserts - domainInserts,
        };
        var updates = new Dictionary<InventoryTable, int>
        {
            [Inventory.Hosts] = hostUpdates,
            [Inventory.Domains] = domainUpdates,
            [Inventory.Certificates] = counts.Updates - hostUpdates - domainUpdates,
        };

        // New certificates may reference the new parents: those are inserted first, in the same transaction.
        values.MaxHostId = size.Hosts + inserts[Inventory.Hosts];
        values.MaxDomainId = size.Domains + inserts[Inventory.Domains];
        using var connection = Inventory.Open(path);
        using var transaction = connection.BeginTransaction();
        foreach (var table in Inventory.Tables)
        {
            using var insert = Inventory.InsertCommand(connection, transaction, table);
            var first = size.RowsOf(table) + 1L;
            for (var id = first; id < first + inserts[table]; id++)
            {
                Inventory.Bind(insert, values.Row(table, id));
                insert.ExecuteNonQuery();
                changes.Add(new Change(table, id, ChangeKind.Insert));
            }
        }

        var taken = Inventory.Tables.ToDictionary(t => t, _ => new HashSet<long>());
        long Untaken(InventoryTable table)
        {
            while (true)
            {
                var id = values.NextId(size.RowsOf(table));
                if (taken[table].Add(id))
                {
                    return id;
                }
            }
        }

        // PostgreSQL checks both foreign keys of each new certificate, and of an updated one each key that changed.
        counts.ForeignKeyChecks = 2L * inserts[Inventory.Certificates];
        using var keys = connection.CreateCommand();
        keys.Transaction = transaction;
        keys.CommandText = $"SELECT host_id, domain_id FROM {Inventory.Certificates.Name} WHERE id = $id";
        var keyId = keys.Parameters.Add("$id", SqliteType.Integer);
        foreach (var table in Inventory.Tables)
        {
            using var update = Inventory.UpdateCommand(connection, transaction, table);
            for (var i = 0; i < updates[table]; i++)
            {
                var id = Untaken(table);
                var row = values.Row(table, id);
                if (table == Inventory.Certificates)
                {
                    keyId.Value = id;
                    using var old = keys.ExecuteReader();
                    old.Read();
                    counts.ForeignKeyChecks += (old.GetInt64(0) != Convert.ToInt64(row[1], CultureInfo.InvariantCulture) ? 1 : 0)
                        + (old.GetInt64(1) != Convert.ToInt64(row[2], CultureInfo.InvariantCulture) ? 1 : 0);
                }

                Inventory.Bind(update, row);
                update.ExecuteNonQuery();
                changes.Add(new Change(table, id, ChangeKind.Update));
            }
        }

        using (var delete = connection.CreateCommand())
        {
            delete.Transaction = transaction;
            delete.CommandText = $"DELETE FROM {Inventory.Certificates.Name} WHERE id = $id";
            var id = delete.Parameters.Add("$id", SqliteType.Integer);
            for (var i = 0; i < counts.Deletes; i++)
            {
                id.Value = Untaken(Inventory.Certificates);
                delete.ExecuteNonQuery();
                changes.Add(new Change(Inventory.Certificates, (long)id.Value, ChangeKind.Delete));
            }
        }

        transaction.Commit();
        return changes;
    }

    private static async Task<Outcome> PushAsync(string path, string schema, string connectionString, PushResult expected,
        List<(string Phase, TimeSpan Time)> phases, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var sync = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = connectionString, Schema = schema },
                new PhaseClock(clock, phases), cancellationToken);
            var elapsed = clock.Elapsed;
            phases.Add(("end", elapsed));
            if (sync.Status != SyncStatus.Succeeded || sync.Inserted != expected.Inserts || sync.Updated != expected.Updates || sync.Deleted != expected.Deletes)
            {
                return Outcome.Failed(string.Create(CultureInfo.InvariantCulture,
                    $"status {sync.Status}: {sync.Inserted} inserted, {sync.Updated} updated, {sync.Deleted} deleted; expected {expected.Inserts}, {expected.Updates}, {expected.Deletes}"));
            }

            return Outcome.Of(expected.Changes, elapsed);
        }
        catch (DbSyncException ex)
        {
            return Outcome.Failed($"{ex.ErrorId}: {ex.Message}");
        }
    }

    /// <summary>
    /// The naive way, done fairly: prepared statements, one PostgreSQL transaction, foreign keys deferred like
    /// DbSync's. Each change reads its row from SQLite by key and sends one upsert, or sends one delete.
    /// </summary>
    /// <returns>The outcome, and the COMMIT's time alone.</returns>
    private static async Task<(Outcome Outcome, TimeSpan Commit)> RowAtATimeAsync(string path, string connectionString, List<Change> changes,
        CancellationToken cancellationToken)
    {
        using var sqlite = Inventory.Open(path);
        await using var pg = new NpgsqlConnection(connectionString);
        await pg.OpenAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        await using var transaction = await pg.BeginTransactionAsync(cancellationToken);
        await Pg.ExecuteAsync(pg, "SET CONSTRAINTS ALL DEFERRED", cancellationToken, transaction);
        var statements = Inventory.Tables.ToDictionary(t => t, t => new RowStatements(sqlite, pg, transaction, $"{BaselineSchema}.{t.Name}", t));
        try
        {
            foreach (var change in changes)
            {
                var statement = statements[change.Table];
                if (change.Kind == ChangeKind.Delete)
                {
                    await statement.DeleteAsync(change.Id, cancellationToken);
                }
                else
                {
                    await statement.UpsertAsync(change.Id, cancellationToken);
                }
            }

            var commit = Stopwatch.StartNew();
            await transaction.CommitAsync(cancellationToken);
            return (Outcome.Of(changes.Count, clock.Elapsed), commit.Elapsed);
        }
        finally
        {
            foreach (var statement in statements.Values)
            {
                await statement.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The floor's input, read from SQLite before it is timed: per table, the rows inserted and updated as they are
    /// now (values as the baseline binds them) and the keys deleted.
    /// </summary>
    private static Dictionary<InventoryTable, (List<object[]> Updates, List<object[]> Inserts, List<long> Deletes)> ReadChangedRows(string path, List<Change> changes)
    {
        using var sqlite = Inventory.Open(path);
        var rows = Inventory.Tables.ToDictionary(t => t, _ => (Updates: new List<object[]>(), Inserts: new List<object[]>(), Deletes: new List<long>()));
        foreach (var table in Inventory.Tables)
        {
            using var read = sqlite.CreateCommand();
            read.CommandText = $"SELECT {string.Join(", ", table.AllColumns)} FROM {table.Name} WHERE id = $id";
            var id = read.Parameters.Add("$id", SqliteType.Integer);
            foreach (var change in changes.Where(c => c.Table == table))
            {
                if (change.Kind == ChangeKind.Delete)
                {
                    rows[table].Deletes.Add(change.Id);
                    continue;
                }

                id.Value = change.Id;
                using var reader = read.ExecuteReader();
                reader.Read();
                var values = new object[table.Columns.Count + 1];
                values[0] = reader.GetInt64(0);
                for (var i = 0; i < table.Columns.Count; i++)
                {
                    values[i + 1] = RowStatements.ReadValue(reader, i + 1, table.Columns[i].Kind);
                }

                (change.Kind == ChangeKind.Update ? rows[table].Updates : rows[table].Inserts).Add(values);
            }
        }

        return rows;
    }

    /// <summary>
    /// PostgreSQL's own floor for these changes: from a new connection, as DbSync's push opens one, in one transaction
    /// with triggers and so foreign-key checks off (session_replication_role = replica): per table, the changed rows
    /// by binary COPY into temporary tables, analyzed, then one UPDATE … FROM, one INSERT … SELECT and one DELETE … USING.
    /// </summary>
    private static async Task<Outcome> FloorAsync(string connectionString,
        Dictionary<InventoryTable, (List<object[]> Updates, List<object[]> Inserts, List<long> Deletes)> rows, int expected, CancellationToken cancellationToken)
    {
        try
        {
            var (changed, elapsed) = await ApplyFloorAsync(connectionString, rows, cancellationToken);
            return changed == expected ? Outcome.Of(changed, elapsed) : Outcome.Failed($"{changed:N0} rows changed, {expected:N0} expected");
        }
        catch (NpgsqlException ex)
        {
            return Outcome.Failed(ex.Message);
        }
    }

    private static async Task<(long Changed, TimeSpan Elapsed)> ApplyFloorAsync(string connectionString,
        Dictionary<InventoryTable, (List<object[]> Updates, List<object[]> Inserts, List<long> Deletes)> rows, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await using var pg = new NpgsqlConnection(connectionString);
        await pg.OpenAsync(cancellationToken);
        await using var transaction = await pg.BeginTransactionAsync(cancellationToken);
        await Pg.ExecuteAsync(pg, "SET LOCAL session_replication_role = replica", cancellationToken, transaction);
        long changed = 0;
        foreach (var table in Inventory.Tables)
        {
            var (updates, inserts, deletes) = rows[table];
            var target = $"{FloorSchema}.{table.Name}";
            await Pg.ExecuteAsync(pg, $"""
                CREATE TEMP TABLE floor_u (LIKE {target}) ON COMMIT DROP;
                CREATE TEMP TABLE floor_i (LIKE {target}) ON COMMIT DROP;
                CREATE TEMP TABLE floor_d (id bigint) ON COMMIT DROP
                """, cancellationToken, transaction);
            foreach (var (name, list) in new[] { ("floor_u", updates), ("floor_i", inserts) })
            {
                await using var import = await pg.BeginBinaryImportAsync($"COPY {name} FROM STDIN (FORMAT BINARY)", cancellationToken);
                foreach (var row in list)
                {
                    await import.StartRowAsync(cancellationToken);
                    await import.WriteAsync((long)row[0], NpgsqlTypes.NpgsqlDbType.Bigint, cancellationToken);
                    for (var i = 0; i < table.Columns.Count; i++)
                    {
                        if (row[i + 1] is DBNull)
                        {
                            await import.WriteNullAsync(cancellationToken);
                        }
                        else
                        {
                            await import.WriteAsync(row[i + 1], table.Columns[i].PostgresType, cancellationToken);
                        }
                    }
                }

                await import.CompleteAsync(cancellationToken);
            }

            await using (var import = await pg.BeginBinaryImportAsync("COPY floor_d FROM STDIN (FORMAT BINARY)", cancellationToken))
            {
                foreach (var id in deletes)
                {
                    await import.WriteRowAsync(cancellationToken, id);
                }

                await import.CompleteAsync(cancellationToken);
            }

            await Pg.ExecuteAsync(pg, "ANALYZE floor_u, floor_i, floor_d", cancellationToken, transaction);
            changed += await Pg.ExecuteCountAsync(pg, $"""
                UPDATE {target} AS t SET {string.Join(", ", table.Columns.Select(c => $"{c.Name} = s.{c.Name}"))} FROM floor_u AS s WHERE t.id = s.id
                """, cancellationToken, transaction);
            changed += await Pg.ExecuteCountAsync(pg, $"INSERT INTO {target} SELECT * FROM floor_i", cancellationToken, transaction);
            changed += await Pg.ExecuteCountAsync(pg, $"DELETE FROM {target} AS t USING floor_d AS s WHERE t.id = s.id", cancellationToken, transaction);
            await Pg.ExecuteAsync(pg, "DROP TABLE floor_u, floor_i, floor_d", cancellationToken, transaction);
        }

        await transaction.CommitAsync(cancellationToken);
        return (changed, clock.Elapsed);
    }

    /// <summary>"equal", or which tables differ in how many rows.</summary>
    private static Task<string> CompareAsync(string connectionString, string schema, CancellationToken cancellationToken) =>
        CompareAsync(connectionString, schema, BaselineSchema, cancellationToken);

    /// <summary>"equal", or which tables differ in how many rows.</summary>
    private static async Task<string> CompareAsync(string connectionString, string schema, string other, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var differences = new List<string>();
        foreach (var table in Inventory.Tables)
        {
            var differing = await Pg.ScalarAsync<long>(connection, $"""
                SELECT count(*) FROM {schema}.{table.Name} AS a FULL JOIN {other}.{table.Name} AS b ON a.id = b.id
                WHERE ROW(a.*) IS DISTINCT FROM ROW(b.*)
                """, cancellationToken);
            if (differing > 0)
            {
                differences.Add(string.Create(CultureInfo.InvariantCulture, $"{table.Name}: {differing} rows"));
            }
        }

        return differences.Count == 0 ? "equal" : string.Join(", ", differences);
    }

    /// <summary>Notes when each phase of a run first reports, on the reporting thread.</summary>
    private sealed class PhaseClock(Stopwatch clock, List<(string Phase, TimeSpan Time)> phases) : IProgress<SyncProgress>
    {
        public void Report(SyncProgress value)
        {
            var name = value.Phase.ToString();
            if (phases.Count == 0 || phases[^1].Phase != name)
            {
                phases.Add((name, clock.Elapsed));
            }
        }
    }

    /// <summary>One table's prepared statements for the row-at-a-time baseline.</summary>
    private sealed class RowStatements : IAsyncDisposable
    {
        private readonly InventoryTable _table;
        private readonly SqliteCommand _read;
        private readonly NpgsqlCommand _upsert;
        private readonly NpgsqlCommand _delete;

        public RowStatements(SqliteConnection sqlite, NpgsqlConnection pg, NpgsqlTransaction transaction, string target, InventoryTable table)
        {
            _table = table;
            var columns = table.AllColumns.ToList();
            _read = sqlite.CreateCommand();
            _read.CommandText = $"SELECT {string.Join(", ", columns)} FROM {table.Name} WHERE id = $id";
            _read.Parameters.Add("$id", SqliteType.Integer);
            _read.Prepare();

            _upsert = new NpgsqlCommand(
                $"INSERT INTO {target} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select((_, i) => "$" + (i + 1).ToString(CultureInfo.InvariantCulture)))}) " +
                $"ON CONFLICT (id) DO UPDATE SET {string.Join(", ", table.Columns.Select(c => $"{c.Name} = EXCLUDED.{c.Name}"))}",
                pg, transaction);
            _upsert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
            foreach (var column in table.Columns)
            {
                _upsert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = column.PostgresType });
            }

            _delete = new NpgsqlCommand($"DELETE FROM {target} WHERE id = $1", pg, transaction);
            _delete.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
            _upsert.Prepare();
            _delete.Prepare();
        }

        public async Task UpsertAsync(long id, CancellationToken cancellationToken)
        {
            _read.Parameters[0].Value = id;
            using (var reader = _read.ExecuteReader())
            {
                if (!reader.Read())
                {
                    throw new InvalidOperationException($"Row {id} of {_table.Name} is not in SQLite.");
                }

                _upsert.Parameters[0].Value = reader.GetInt64(0);
                for (var i = 0; i < _table.Columns.Count; i++)
                {
                    _upsert.Parameters[i + 1].Value = ReadValue(reader, i + 1, _table.Columns[i].Kind);
                }
            }

            await _upsert.ExecuteNonQueryAsync(cancellationToken);
        }

        public async Task DeleteAsync(long id, CancellationToken cancellationToken)
        {
            _delete.Parameters[0].Value = id;
            await _delete.ExecuteNonQueryAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            _read.Dispose();
            await _upsert.DisposeAsync();
            await _delete.DisposeAsync();
        }

        public static object ReadValue(SqliteDataReader reader, int ordinal, ColumnKind kind) =>
            reader.IsDBNull(ordinal) ? DBNull.Value : kind switch
            {
                ColumnKind.Integer => reader.GetInt64(ordinal),
                ColumnKind.Real => reader.GetDouble(ordinal),
                ColumnKind.Text => reader.GetString(ordinal),
                ColumnKind.DateTime => DateTime.ParseExact(reader.GetString(ordinal), "s", CultureInfo.InvariantCulture),
                _ => reader.GetFieldValue<byte[]>(ordinal),
            };
    }
}
