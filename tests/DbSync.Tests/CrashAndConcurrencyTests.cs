using System.Diagnostics;
using System.Globalization;
using DbSync.Core;
using DbSync.Tests.Infrastructure;
using Xunit.Abstractions;

namespace DbSync.Tests;

public sealed class CrashAndConcurrencyTests(ITestOutputHelper output) : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    /// <summary>Seed from DBSYNC_TEST_SEED to replay a failure, else fresh; always printed.</summary>
    private Random SeededRandom(string name)
    {
        var text = Environment.GetEnvironmentVariable("DBSYNC_TEST_SEED");
        var seed = text is null ? Environment.TickCount & 0x7FFFFFFF : int.Parse(text, CultureInfo.InvariantCulture);
        output.WriteLine($"{name}: seed {seed} (replay with DBSYNC_TEST_SEED={seed})");
        return new Random(seed);
    }

    [Fact]
    public async Task A_writer_committing_while_syncs_run_loses_nothing()
    {
        var path = _fixture.CopyChinook();
        var random = SeededRandom(nameof(A_writer_committing_while_syncs_run_loses_nothing));
        var writerSeed = random.Next();
        using var stop = new CancellationTokenSource();
        var commits = 0;
        var writer = Task.Run(() =>
        {
            var writerRandom = new Random(writerSeed);
            using var sqlite = SyncFixture.OpenSqlite(path);
            while (!stop.IsCancellationRequested)
            {
                using var transaction = sqlite.BeginTransaction();
                SyncFixture.Execute(sqlite, "PRAGMA defer_foreign_keys = ON");
                ChinookSyncTests.ApplyRandomChanges(sqlite, transaction, writerRandom, 5);
                transaction.Commit();
                Interlocked.Increment(ref commits);
                Thread.Sleep(writerRandom.Next(0, 5));
            }
        });

        var runs = new List<SyncResult>();
        // At least six runs, and as many more as it takes for the writer to have committed alongside them: runs are
        // quick, and the writer (with SQLite's own busy handler) can get few commits in while they take their locks.
        for (var i = 0; i < 6 || (Volatile.Read(ref commits) <= 40 && i < 200); i++)
        {
            runs.Add(await _fixture.SyncAsync(path));
            await Task.Delay(random.Next(0, 100));
        }

        await stop.CancelAsync();
        await writer;
        var final = await _fixture.SyncAsync(path);

        output.WriteLine($"{commits} writer commits; runs pushed {string.Join(", ", runs.Select(r => r.Inserted + r.Updated + r.Deleted))}");
        Assert.True(commits > 20, $"only {commits} commits: the writer never ran alongside the syncs");
        Assert.True(runs.Skip(1).Any(r => r.Inserted + r.Updated + r.Deleted > 0), "no run pushed concurrent changes");
        Assert.All(runs.Append(final), r => Assert.Equal(SyncStatus.Succeeded, r.Status));
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task The_cli_killed_at_random_points_leaves_both_databases_so_the_next_run_completes()
    {
        var path = _fixture.CopyChinook();
        // A bigger table makes each run long enough for kills to land in every phase.
        SyncFixture.Execute(path, """
            CREATE TABLE bulk (id INTEGER PRIMARY KEY, album INTEGER REFERENCES Album (AlbumId), note TEXT, amount REAL, at DATETIME);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
            INSERT INTO bulk SELECT i, 1 + i % 347, 'note ' || i, i * 0.25, datetime('2020-01-01', '+' || i || ' minutes') FROM n;
            """);
        var random = SeededRandom(nameof(The_cli_killed_at_random_points_leaves_both_databases_so_the_next_run_completes));
        var cli = Path.Combine(AppContext.BaseDirectory, "dbsync.dll");
        var killed = 0;
        var finished = 0;
        // Rounds 0 and 1 kill the initial load, round 2 lets it finish, later rounds kill pushes at any point
        // (start-up, connect, capture, snapshot, COPY, apply, commit, marking synced).
        for (var round = 0; round < 10; round++)
        {
            if (round >= 3)
            {
                ChangeEverything(path, random);
            }

            var delay = round switch { < 2 => random.Next(100, 1500), 2 => 60_000, _ => random.Next(50, 1100) };
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { cli, "sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--json" })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var exited = process.WaitForExit(delay);
            if (!exited)
            {
                process.Kill(entireProcessTree: true);
                killed++;
            }
            else
            {
                finished++;
            }

            await process.WaitForExitAsync();
            output.WriteLine($"round {round}: {(exited ? $"finished before {delay} ms with exit code {process.ExitCode}" : $"killed after {delay} ms")}");
            Assert.True(!exited || process.ExitCode == 0, await process.StandardError.ReadToEndAsync());
        }

        Assert.True(killed >= 4 && finished >= 1, $"{killed} killed, {finished} finished: the kill points did not spread over runs");
        var final = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.Succeeded, final.Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
        // Runs that never finished are visible as such.
        using var check = SyncFixture.OpenSqlite(path);
        using var command = check.CreateCommand();
        command.CommandText = "SELECT count(*) FROM _dbsync_runs WHERE status = 'Running'";
        output.WriteLine($"{command.ExecuteScalar()} run(s) left marked Running by kills");
    }

    [Fact]
    public async Task Cancelling_a_run_applies_nothing_and_the_next_run_completes()
    {
        var path = _fixture.CopyChinook();
        using var cancel = new CancellationTokenSource();
        var progress = new InlineProgress<SyncProgress>(p =>
        {
            if (p.Table == "Track" && p.Rows > 0)
            {
                cancel.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new SyncEngine().SyncAsync(_fixture.Request(path), progress, cancel.Token));

        Assert.False(_fixture.SchemaExists());
        using (var sqlite = SyncFixture.OpenSqlite(path))
        using (var command = sqlite.CreateCommand())
        {
            command.CommandText = "SELECT status FROM _dbsync_runs";
            Assert.Equal("Cancelled", command.ExecuteScalar());
        }

        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    [Fact]
    public async Task Sigterm_stops_the_cli_cleanly_with_exit_130_and_nothing_applied()
    {
        var path = _fixture.CopyChinook();
        SyncFixture.Execute(path, """
            CREATE TABLE bulk (id INTEGER PRIMARY KEY, note TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400000) INSERT INTO bulk SELECT i, 'note ' || i FROM n;
            """);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "dbsync.dll"), "sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--json" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        // Wait until the run is under way (capture installed, the run recorded), then ask it to stop.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !SyncFixture.RunLogged(path))
        {
            await Task.Delay(20);
        }

        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await process.WaitForExitAsync();

        Assert.Equal(130, process.ExitCode);
        var json = System.Text.Json.JsonDocument.Parse(await stdout).RootElement;
        Assert.Equal("Cancelled", json.GetProperty("status").GetString());
        Assert.Equal("DbSync.Cancelled", json.GetProperty("errorId").GetString());
        // The run id, as the run log has it.
        var entry = Assert.Single(await new SyncEngine().GetLogAsync(new Core.Bookkeeping.LogQuery { Path = path }));
        Assert.Equal((entry.RunId.ToString(), Core.Bookkeeping.RunStatus.Cancelled), (json.GetProperty("runId").GetString(), entry.Status));
        Assert.False(_fixture.SchemaExists());
        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }

    private static void ChangeEverything(string path, Random random)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var transaction = sqlite.BeginTransaction();
        SyncFixture.Execute(sqlite, "PRAGMA defer_foreign_keys = ON");
        ChinookSyncTests.ApplyRandomChanges(sqlite, transaction, random, 40);
        using var bulk = sqlite.CreateCommand();
        bulk.Transaction = transaction;
        bulk.CommandText = $"UPDATE bulk SET note = note || '+' WHERE id % 7 = {random.Next(7)}; DELETE FROM bulk WHERE id % 97 = {random.Next(97)}; " +
            "INSERT INTO bulk SELECT max(id) + 1, 1, 'new', 1.5, '2024-01-01 00:00:00' FROM bulk;";
        bulk.ExecuteNonQuery();
        transaction.Commit();
    }
}
