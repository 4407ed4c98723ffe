using System.Diagnostics;
using DbSync.Core;

namespace DbSync.Bench;

/// <summary>
/// DbSync's benchmark: generates data from a fixed seed, runs the scenarios against a real PostgreSQL, prints a
/// table and writes docs/benchmarks.md with an SVG chart. Exit code 0 on success, 1 when a DbSync step failed,
/// 2 on a usage error, 130 when interrupted.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 3 && args[0] == ChildLoad.Flag)
        {
            return await ChildLoad.RunAsync(args[1], args[2]);
        }

        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"{ex.Message}\n\n{BenchOptions.Usage}");
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // Stop at the next await and clean up (PostgreSQL, work files) instead of dying mid-way.
            e.Cancel = true;
            cancel.Cancel();
        };

        if (FindRepoRoot() is not { } repoRoot)
        {
            await Console.Error.WriteLineAsync("DbSync.sln was not found above the current folder or the program's folder; run from the repository.");
            return 2;
        }

        var outPath = Path.GetFullPath(options.OutPath ?? Path.Combine(repoRoot, "docs", "benchmarks.md"));
        var workDir = Directory.CreateTempSubdirectory("dbsync-bench-");
        try
        {
            return await RunAsync(options, repoRoot, workDir.FullName, outPath, cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("Interrupted.");
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or Npgsql.NpgsqlException or Microsoft.Data.Sqlite.SqliteException)
        {
            await Console.Error.WriteLineAsync($"The benchmark failed: {ex}");
            return 1;
        }
        finally
        {
            workDir.Delete(recursive: true);
        }
    }

    private static async Task<int> RunAsync(BenchOptions options, string repoRoot, string workDir, string outPath, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        await using var server = await PostgresServer.StartAsync(repoRoot, workDir, cancellationToken);
        var context = new BenchContext(options, workDir, server);
        context.Log($"PostgreSQL: {server.Version}");
        var load = await new InitialLoadScenario(context).RunAsync(cancellationToken);
        var push = await new PushScenario(context).RunAsync(load, cancellationToken);
        var capture = await new CaptureOverheadScenario(context).RunAsync(cancellationToken);
        var operations = await new OperationsScenario(context).RunAsync(cancellationToken);
        await context.DropSchemaAsync(InitialLoadScenario.DbSyncSchema, cancellationToken);

        var engine = await DescribeEngineAsync(repoRoot, cancellationToken);
        var report = new BenchReport(options, MachineInfo.Read(), engine, server.Version, server.Origin, started, clock.Elapsed, load, push, capture, operations);
        ReportWriter.WriteConsole(report, Console.Out);
        ReportWriter.WriteMarkdown(report, outPath);
        context.Log($"Wrote {outPath} and {Path.ChangeExtension(outPath, ".svg")}");
        return report.Failures.Any() ? 1 : 0;
    }

    /// <summary>The engine measured: DbSync.Core's version and the commit, flagging uncommitted changes under src/.</summary>
    private static async Task<string> DescribeEngineAsync(string repoRoot, CancellationToken cancellationToken)
    {
        var engine = $"DbSync.Core {SyncEngine.Version}";
        if (!ProcessRunner.IsOnPath("git"))
        {
            return engine;
        }

        var timeout = TimeSpan.FromSeconds(30);
        var head = await ProcessRunner.RunAsync("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"], timeout, cancellationToken);
        if (head.ExitCode != 0)
        {
            return engine;
        }

        var changes = await ProcessRunner.RunAsync("git", ["-C", repoRoot, "status", "--porcelain", "--", "src"], timeout, cancellationToken);
        return $"{engine}, commit {head.StandardOutput.Trim()}{(changes.StandardOutput.Trim().Length > 0 ? " with uncommitted changes in src/" : "")}";
    }

    /// <summary>The folder holding DbSync.sln, searched upwards from the current folder, then from the program's.</summary>
    private static string? FindRepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "DbSync.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }
}
