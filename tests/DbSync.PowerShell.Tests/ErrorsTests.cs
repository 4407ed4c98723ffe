using DbSync.Core;
using DbSync.PowerShell.Infrastructure;
using DbSync.Tests.Infrastructure;

namespace DbSync.PowerShell.Tests;

/// <summary>Which of Core's failures end a cmdlet, and which are about one input item only.</summary>
public sealed class ErrorsTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    [Fact]
    public async Task Reset_of_a_file_on_which_capture_was_never_enabled_is_about_that_file_and_does_not_end_the_command()
    {
        var path = _fixture.CopyChinook();
        var error = await Assert.ThrowsAsync<DbSyncException>(() =>
            new SyncEngine().ResetNodeAsync(new ResetNodeRequest { Path = path, LockTimeout = TimeSpan.FromSeconds(5) }, CancellationToken.None));
        Assert.Equal(ErrorIds.UsageError, error.ErrorId);
        Assert.Equal(path, error.Target);
        Assert.False(Errors.EndsTheCommand(error));
    }

    [Fact]
    public async Task A_mistake_in_the_parameters_ends_the_command()
    {
        var path = _fixture.CopyChinook();
        var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(
            new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, BatchSize = 0 }, null, CancellationToken.None));
        Assert.Equal(ErrorIds.UsageError, error.ErrorId);
        Assert.True(Errors.EndsTheCommand(error));
        Assert.True(Errors.EndsTheCommand(new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument, "--last must be at least 1 (got 0).")));
        Assert.True(Errors.EndsTheCommand(new DbSyncException(ErrorIds.ConnectionMissing, DbSyncErrorCategory.InvalidArgument, "No connection string.")));
        Assert.True(Errors.EndsTheCommand(new DbSyncException(ErrorIds.InvalidConnectionString, DbSyncErrorCategory.InvalidArgument, "Bad.")));
        Assert.False(Errors.EndsTheCommand(new DbSyncException(ErrorIds.SourceNotFound, DbSyncErrorCategory.ObjectNotFound, "Missing.", path)));
    }

    [Fact]
    public async Task A_schema_holding_a_password_is_shown_naming_ConnectionString_once()
    {
        // Core names both ("--connection (-ConnectionString)"); rewritten, it said "-ConnectionString (-ConnectionString)".
        var path = _fixture.CopyChinook();
        var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().SyncAsync(
            new SyncRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = "Host=h;Password=Sekr1tPW" }, null, CancellationToken.None));
        Assert.Equal(ErrorIds.UsageError, error.ErrorId);
        // What Errors.From shows as the record's ErrorDetails (the stub PowerShellStandard builds no real ErrorRecord).
        var shown = Wording.ForPowerShell(error.Message);
        Assert.EndsWith("which goes in -ConnectionString.", shown, StringComparison.Ordinal);
        Assert.DoesNotContain("Sekr1tPW", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_string_given_as_the_path_is_not_the_error_records_target_with_its_password()
    {
        // Get-DbSyncConflict $cs ./h.sqlite: position 0 is -Path, so the connection string resolves to a path in the
        // current folder, and the SQLite file is taken as the connection string; Core's error has no target of its own.
        var file = _fixture.CopyChinook();
        var swapped = Path.Combine(Path.GetDirectoryName(file)!, "Host=127.0.0.1;Username=dbsync;Database=held;Password=TopSecret99");
        var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().GetConflictsAsync(
            new ConflictQuery { ConnectionString = file, Path = swapped }, CancellationToken.None));
        Assert.Null(error.Target);

        var target = Assert.IsType<string>(Errors.TargetOf(error, swapped));
        Assert.DoesNotContain("TopSecret99", target, StringComparison.Ordinal);
        Assert.EndsWith("Password=***", target, StringComparison.Ordinal);
        Assert.Equal(file, Errors.TargetOf(new DbSyncException(ErrorIds.SourceBusy, DbSyncErrorCategory.OperationTimeout, "Busy."), file));
    }

    [Fact]
    public async Task A_held_rows_error_shows_the_files_path_as_it_is_even_with_CLI_words_in_it()
    {
        // A folder named "old dbsync status --force": the path is data, not DbSync's wording to rewrite.
        Directory.CreateDirectory(Path.Combine(_fixture.Directory, "old dbsync status --force"));
        var path = _fixture.CreateDatabase("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER)", Path.Combine("old dbsync status --force", "shop.sqlite"));
        _fixture.PgExecute($"CREATE SCHEMA \"{_fixture.Schema}\"; CREATE TABLE \"{_fixture.Schema}\".items (id bigint PRIMARY KEY, qty bigint CHECK (qty >= 0))");
        await _fixture.SyncAsync(path);
        SyncFixture.Execute(path, "INSERT INTO items VALUES (1, -1)");
        var table = Assert.Single((await _fixture.SyncAsync(path)).Tables);
        Assert.Equal(1, table.Quarantined);

        Assert.StartsWith($"{path}: table items: 1 row(s) quarantined (see Get-DbSyncQuarantine)", Errors.RowsHeldMessage(table, path), StringComparison.Ordinal);
    }

    [Fact]
    public void A_skipped_tables_error_rewrites_only_Cores_wording_not_the_path()
    {
        var path = Path.Combine(_fixture.Directory, "old dbsync status --force", "shop.sqlite");
        var table = new TableSyncResult { Name = "dbsync sync", Target = "x" };
        // Only Core sets a table's Message: reflection stands in for a run that skipped the table.
        typeof(TableSyncResult).GetProperty(nameof(TableSyncResult.Message))!.SetValue(table, "run dbsync quarantine --retry after the fix");
        var (message, shown) = Errors.TableMessage(table, path);
        Assert.Equal($"{path}: table dbsync sync: run dbsync quarantine --retry after the fix", message);
        Assert.Equal($"{path}: table dbsync sync: run Get-DbSyncQuarantine -Retry after the fix", shown);
    }

    public void Dispose() => _fixture.Dispose();
}
