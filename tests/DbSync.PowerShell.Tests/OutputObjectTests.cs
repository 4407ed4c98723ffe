using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;

namespace DbSync.PowerShell.Tests;

/// <summary>What "$result", Write-Host and a Format-List property show for the objects the cmdlets emit: not a type name.</summary>
public sealed class OutputObjectTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    [Fact]
    public async Task Results_of_a_real_run_read_as_one_line_naming_status_counts_and_file()
    {
        var path = _fixture.CopyChinook();
        var engine = new SyncEngine();
        var result = await engine.SyncAsync(new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema, Tables = ["Genre"] });
        Assert.Matches(@"^Succeeded: 25 inserted, 0 updated, 0 deleted in \d+\.\d\d s \(" + System.Text.RegularExpressions.Regex.Escape(path) + @"\)$", result.ToString());

        var entry = Assert.Single(await engine.GetLogAsync(new LogQuery { Path = path }));
        Assert.Equal($"Succeeded: 25 inserted, 0 updated, 0 deleted, run {result.RunId} at {entry.StartedAt:yyyy-MM-dd HH:mm:ss}Z", entry.ToString());

        var status = await engine.GetStatusAsync(new StatusRequest { Path = path, Detailed = true });
        Assert.Equal($"{path}: capture enabled, 0 pending, last run Succeeded", status.ToString());
        Assert.Equal("Genre: 0 pending", status.Tables.Single(t => t.Name == "Genre").ToString());

        var failed = new RunLogEntry { RunId = Guid.Empty, Status = RunStatus.Failed, ErrorId = ErrorIds.TargetUnreachable, StartedAt = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc) };
        Assert.Equal($"Failed: 0 inserted, 0 updated, 0 deleted, run {Guid.Empty} at 2025-01-02 03:04:05Z (DbSync.TargetUnreachable)", failed.ToString());
        Assert.Equal("Fail Target.Reachable: no answer", new CheckResult { Name = "Target.Reachable", Status = CheckStatus.Fail, Message = "no answer" }.ToString());
    }

    public void Dispose() => _fixture.Dispose();
}
