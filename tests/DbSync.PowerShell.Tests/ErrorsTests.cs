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

    public void Dispose() => _fixture.Dispose();
}
