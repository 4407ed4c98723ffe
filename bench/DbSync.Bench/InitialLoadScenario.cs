using System.Diagnostics;
using DbSync.Core;
using Npgsql;

namespace DbSync.Bench;

/// <summary>Scenario 1's findings.</summary>
internal sealed class InitialLoadResult
{
    public const double PgloaderFactorGoal = 5;
    public const double RawCopyFactorGoal = 2;
    public const double MemoryGoalMegabytes = 200;

    /// <summary>The peak at full size may exceed the small one by this factor and still count as flat.</summary>
    public const double FlatMemoryFactor = 1.25;

    public required InventorySize Size { get; init; }

    public long FileBytes { get; set; }

    public TimeSpan GenerationTime { get; set; }

    public Outcome DbSync { get; set; } = Outcome.Failed("not run");

    public Outcome Pgloader { get; set; } = Outcome.Failed("not run");

    public string PgloaderVersion { get; set; } = "";

    public Outcome RawCopy { get; set; } = Outcome.Failed("not run");

    /// <summary>Every timed DbSync load and raw COPY; the outcomes above are their medians.</summary>
    public List<TimeSpan> DbSyncSamples { get; } = [];

    public List<TimeSpan> RawCopySamples { get; } = [];

    public InventorySize SmallSize { get; set; } = InventorySize.Full;

    public MemoryProbe? SmallMemory { get; set; }

    public MemoryProbe? FullMemory { get; set; }

    public string? MemoryFailure { get; set; }

    /// <summary>The loaded SQLite file (capture installed) and its target schema, for the push scenario; null when the load failed.</summary>
    public string? LoadedPath { get; set; }

    public string Schema { get; set; } = "";

    public List<string> Failures { get; } = [];

    /// <summary>DbSync's speed-up over pgloader (time of pgloader / time of DbSync).</summary>
    public double? PgloaderFactor => Ratio(Pgloader, DbSync);

    /// <summary>How many times longer DbSync takes than PostgreSQL's own binary COPY.</summary>
    public double? RawCopyFactor => Ratio(DbSync, RawCopy);

    /// <summary>The higher of the two measured peaks, in MB.</summary>
    public double? PeakMegabytes => FullMemory is null ? null : Math.Max(FullMemory.PeakMegabytes, SmallMemory?.PeakMegabytes ?? 0);

    /// <summary>Full-size peak divided by the small database's peak.</summary>
    public double? MemoryGrowth => SmallMemory is { } small && FullMemory is { } full ? full.PeakMegabytes / small.PeakMegabytes : null;

    public IEnumerable<TargetCheck> Targets =>
    [
        new("1. Initial load vs pgloader", $"DbSync ≥{PgloaderFactorGoal:0}× faster",
            PgloaderFactor is { } p ? $"{p:0.0}× faster" : $"not measured ({(DbSync.Succeeded ? "pgloader " + Pgloader.Failure : "DbSync load failed")})", TargetCheck.Judge(PgloaderFactor, f => f >= PgloaderFactorGoal)),
        new("1. Initial load vs raw binary COPY", $"within {RawCopyFactorGoal:0}× of COPY",
            RawCopyFactor is { } r ? $"{r:0.00}× the COPY time" : $"not measured ({RawCopy.Failure ?? DbSync.Failure})", TargetCheck.Judge(RawCopyFactor, f => f <= RawCopyFactorGoal)),
        new("1. Peak memory of the load", $"≤{MemoryGoalMegabytes:0} MB",
            PeakMegabytes is { } m ? $"{m:0} MB" : $"not measured ({MemoryFailure})", TargetCheck.Judge(PeakMegabytes, m => m <= MemoryGoalMegabytes)),
        new("1. Memory flat with size", $"full-size peak ≤{FlatMemoryFactor}× the {SmallSize.Total:N0}-row peak",
            MemoryGrowth is { } g ? $"{g:0.00}×" : "not measured", TargetCheck.Judge(MemoryGrowth, g => g <= FlatMemoryFactor)),
    ];

    public IEnumerable<ChartBar> Bars =>
    [
        new("1a DbSync initial load", DbSync),
        new("1b pgloader", Pgloader),
        new("1c PostgreSQL binary COPY", RawCopy),
    ];

    private static double? Ratio(Outcome slower, Outcome faster) =>
        slower.Value is { } s && faster.Value is { } f && f.Elapsed > TimeSpan.Zero ? s.Elapsed / f.Elapsed : null;
}

/// <summary>
/// Scenario 1: initial load of a generated inventory. DbSync's load is timed against pgloader loading the same
/// file and against PostgreSQL's own binary COPY of the same rows, the floor any loader over COPY can reach.
/// DbSync's peak memory is measured in a child process, on a ~100k-row database and on the full one.
/// </summary>
internal sealed class InitialLoadScenario(BenchContext context)
{
    public const string DbSyncSchema = "bench_dbsync";
    private const string RawSchema = "bench_raw";
    private const string PgloaderDatabase = "bench_pgloader";
    private const int SmallRows = 100_000;
    private const int LoadRepetitions = 3;

    public async Task<InitialLoadResult> RunAsync(CancellationToken cancellationToken)
    {
        var size = InventorySize.Full.Scaled(context.Options.Scale);
        var result = new InitialLoadResult { Size = size, SmallSize = size.Scaled((double)SmallRows / InventorySize.Full.Total) };
        var pristine = context.WorkFile("inventory.db");
        context.Log($"Scenario 1: generating the inventory ({size.Total:N0} rows)");
        var clock = Stopwatch.StartNew();
        Inventory.Generate(pristine, size, BenchContext.Seed);
        result.GenerationTime = clock.Elapsed;
        result.FileBytes = new FileInfo(pristine).Length;

        // DbSync's load and the raw COPY are each timed LoadRepetitions times and the median taken: one sample on this
        // kind of machine can be a third off. Each DbSync load starts from a fresh copy of the file (a load installs
        // capture in it); the last one's file and schema go on to scenario 2. Each copy has a path of its own: a fresh
        // file at a path another node synced from joins with a warning that it may have replaced that node's file.
        var loaded = "";
        for (var i = 1; i <= LoadRepetitions; i++)
        {
            loaded = context.WorkFile($"loaded-{i}.db");
            File.Delete(loaded);
            File.Copy(pristine, loaded);
            context.Log($"Scenario 1a: DbSync initial load ({i} of {LoadRepetitions})");
            var sample = await DbSyncLoadAsync(loaded, size, cancellationToken);
            if (!sample.Succeeded)
            {
                result.DbSync = sample;
                break;
            }

            result.DbSyncSamples.Add(sample.Value!.Elapsed);
            result.DbSync = Median(result.DbSyncSamples, sample.Value.Rows);
        }

        if (result.DbSync.Succeeded)
        {
            result.LoadedPath = loaded;
            result.Schema = DbSyncSchema;
            context.Log("Scenario 1c: PostgreSQL binary COPY of the same rows");
            result.RawCopy = await RawCopyAsync(result.RawCopySamples, cancellationToken);
        }
        else
        {
            result.Failures.Add($"DbSync initial load: {result.DbSync.Failure}");
            result.RawCopy = Outcome.Failed("not measured: the DbSync load, whose tables are exported, failed");
        }

        if (context.Options.SkipPgloader)
        {
            result.Pgloader = Outcome.Failed("skipped (--no-pgloader)");
        }
        else
        {
            context.Log("Scenario 1b: pgloader");
            await context.Server.QuiesceAsync(cancellationToken);
            var pgloader = new PgloaderRunner(context);
            result.Pgloader = await pgloader.LoadAsync(pristine, PgloaderDatabase, size, cancellationToken);
            result.PgloaderVersion = pgloader.Version;
        }

        context.Log($"Scenario 1: peak memory of DbSync loads in a child process ({result.SmallSize.Total:N0} and {size.Total:N0} rows)");
        await MeasureMemoryAsync(result, pristine, cancellationToken);
        return result;
    }

    private async Task<Outcome> DbSyncLoadAsync(string path, InventorySize size, CancellationToken cancellationToken)
    {
        await context.DropSchemaAsync(DbSyncSchema, cancellationToken);
        await context.Server.QuiesceAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        try
        {
            var sync = await new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = context.ConnectionString, Schema = DbSyncSchema },
                null, cancellationToken);
            var elapsed = clock.Elapsed;
            if (sync.Status != SyncStatus.Succeeded || sync.Inserted != size.Total || sync.Tables.Any(t => t.Mode != "InitialLoad"))
            {
                return Outcome.Failed($"status {sync.Status}, {sync.Inserted:N0} of {size.Total:N0} rows inserted, modes {string.Join("/", sync.Tables.Select(t => t.Mode))}");
            }

            return Outcome.Of(sync.Inserted, elapsed);
        }
        catch (DbSyncException ex)
        {
            return Outcome.Failed($"{ex.ErrorId}: {ex.Message}");
        }
    }

    /// <summary>
    /// Exports DbSync's tables with binary COPY TO, then times what a hand-written loader at the limit would do:
    /// in one transaction create the tables, binary COPY FROM the exported files, then add the same primary and
    /// foreign keys DbSync added, in the same order (keys after the data).
    /// </summary>
    private async Task<Outcome> RawCopyAsync(List<TimeSpan> samples, CancellationToken cancellationToken)
    {
        await context.DropSchemaAsync(RawSchema, cancellationToken);
        await using var connection = context.Server.Open();
        var files = new List<(InventoryTable Table, string File)>();
        foreach (var table in Inventory.Tables)
        {
            var file = context.WorkFile(table.Name + ".copy");
            await using (var output = File.Create(file))
            await using (var export = await connection.BeginRawBinaryCopyAsync(
                $"COPY (SELECT {string.Join(", ", table.AllColumns)} FROM {DbSyncSchema}.{table.Name}) TO STDOUT (FORMAT BINARY)", cancellationToken))
            {
                await export.CopyToAsync(output, cancellationToken);
            }

            files.Add((table, file));
        }

        var constraints = await Pg.ConstraintStatementsAsync(connection, DbSyncSchema, foreignKeysOnly: false, cancellationToken);
        long rows = 0;
        for (var i = 1; i <= LoadRepetitions; i++)
        {
            await context.DropSchemaAsync(RawSchema, cancellationToken);
            await context.Server.QuiesceAsync(cancellationToken, DbSyncSchema);
            var clock = Stopwatch.StartNew();
            await CopyRawAsync(connection, files, constraints, cancellationToken);
            samples.Add(clock.Elapsed);
            rows = 0;
            foreach (var (table, _) in files)
            {
                rows += await Pg.CountAsync(connection, $"{RawSchema}.{table.Name}", cancellationToken);
            }
        }

        foreach (var (_, file) in files)
        {
            File.Delete(file);
        }

        await context.DropSchemaAsync(RawSchema, cancellationToken);
        return Median(samples, rows);
    }

    /// <summary>The timed part of the raw limit: one transaction creating the tables, COPYing the files, adding the keys.</summary>
    private static async Task CopyRawAsync(NpgsqlConnection connection, List<(InventoryTable Table, string File)> files, IReadOnlyList<string> constraints,
        CancellationToken cancellationToken)
    {
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await Pg.ExecuteAsync(connection, $"CREATE SCHEMA {RawSchema}; SET LOCAL search_path = {RawSchema}", cancellationToken, transaction);
            foreach (var (table, file) in files)
            {
                await Pg.ExecuteAsync(connection, $"CREATE TABLE {table.Name} (LIKE {DbSyncSchema}.{table.Name} INCLUDING IDENTITY)", cancellationToken, transaction);
                await using var input = File.OpenRead(file);
                await using var import = await connection.BeginRawBinaryCopyAsync(
                    $"COPY {table.Name} ({string.Join(", ", table.AllColumns)}) FROM STDIN (FORMAT BINARY)", cancellationToken);
                await input.CopyToAsync(import, cancellationToken);
            }

            foreach (var statement in constraints)
            {
                await Pg.ExecuteAsync(connection, statement, cancellationToken, transaction);
            }

            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>The median of an odd number of samples (the lower middle of an even one).</summary>
    private static Outcome Median(List<TimeSpan> samples, long rows) => Outcome.Of(rows, samples.Order().ElementAt((samples.Count - 1) / 2));

    private async Task MeasureMemoryAsync(InitialLoadResult result, string pristine, CancellationToken cancellationToken)
    {
        const string smallSchema = "bench_memory_small";
        const string fullSchema = "bench_memory_full";
        var small = context.WorkFile("small.db");
        Inventory.Generate(small, result.SmallSize, BenchContext.Seed);
        try
        {
            await context.DropSchemaAsync(smallSchema, cancellationToken);
            result.SmallMemory = await ChildLoad.MeasureAsync(context, small, smallSchema, cancellationToken);
            await context.DropSchemaAsync(fullSchema, cancellationToken);
            result.FullMemory = await ChildLoad.MeasureAsync(context, pristine, fullSchema, cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            result.MemoryFailure = ex.Message;
            result.Failures.Add($"DbSync load for the memory probe: {ex.Message}");
        }

        await context.DropSchemaAsync(smallSchema, cancellationToken);
        await context.DropSchemaAsync(fullSchema, cancellationToken);
    }
}
