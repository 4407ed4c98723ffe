using DbSync.Core;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// The one-line strings of results ("$result" in PowerShell, logs): disable said "N table(s) captured" just after it
/// removed capture, and a reset node's result and a run's log outcome printed their type names (module exploration F11).
/// </summary>
public sealed class ResultTextTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly SyncEngine _engine = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task Sync_enable_disable_and_reset_results_read_as_what_happened()
    {
        var path = _fixture.CreateDatabase("""
            CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE tag (id INTEGER PRIMARY KEY, name TEXT);
            INSERT INTO item VALUES (1, 'one');
            """);
        var sync = await _fixture.SyncAsync(path);
        Assert.Equal(SyncStatus.Succeeded, sync.Status);
        Assert.Equal("backup yes, file yes, PostgreSQL yes", sync.Log.ToString());

        var enabled = await _engine.EnableAsync(new EnableRequest { Path = path });
        Assert.Equal($"{path}: 2 table(s) captured", enabled.ToString());

        SyncFixture.Execute(path, "INSERT INTO item VALUES (2, 'two')");
        var disabled = await _engine.DisableAsync(new DisableRequest { Path = path, Force = true });
        Assert.Equal($"{path}: capture disabled, 2 table(s) released, 1 pending change(s) discarded", disabled.ToString());

        Assert.Equal(SyncStatus.Succeeded, (await _fixture.SyncAsync(path)).Status);
        var reset = await _engine.ResetNodeAsync(new ResetNodeRequest { Path = path, ConnectionString = TestServer.ConnectionString });
        Assert.Equal($"{path}: node {reset.PreviousNodeId} -> {reset.NodeId} (old id released in PostgreSQL), 2 table(s) copied in full on the next sync",
            reset.ToString());
    }
}
