using System.Diagnostics;
using DbSync.Tests.Infrastructure;
using Xunit.Abstractions;

namespace DbSync.Tests;

/// <summary>The benchmark program still works end to end. Figures are not asserted: timing belongs to the benchmark.</summary>
public sealed class BenchmarkSmokeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dbsync-bench-smoke-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_benchmark_runs_every_scenario_at_a_tiny_scale_and_writes_its_report()
    {
        var report = Path.Combine(_directory, "benchmarks.md");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "DbSync.Bench.dll"), "--scale", "0.002", "--no-pgloader", "--out", report })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DBSYNC_TEST_PG"] = TestServer.ConnectionString;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");
        var markdown = await File.ReadAllTextAsync(report);
        foreach (var section in new[] { "## 1. Initial load", "## 2. Incremental push", "## 3. Capture overhead", "updates, unique index on `hostname`", "## 4. Status", "## 6. Restoring a run log backup", "| Target | Goal |" })
        {
            Assert.Contains(section, markdown, StringComparison.Ordinal);
        }

        Assert.True(File.Exists(Path.Combine(_directory, "benchmarks.svg")));
        Assert.DoesNotContain(TestServer.Password, markdown + await stdout + await stderr, StringComparison.Ordinal);
    }
}
