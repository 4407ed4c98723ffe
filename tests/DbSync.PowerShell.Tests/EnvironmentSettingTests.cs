using DbSync.Core;
using DbSync.Core.Target;
using DbSync.PowerShell.Commands;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Tests;

/// <summary>The tests that set DBSYNC_CONNECTION or DBSYNC_LOG_PATH run alone: the variables are the process's.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "Environment variables";
}

/// <summary>
/// A blank -ConnectionString, DBSYNC_CONNECTION or DBSYNC_LOG_PATH counts as unset, as the CLI takes
/// <c>--connection ""</c> and the variables (docs/cli.md).
/// </summary>
[Collection(EnvironmentCollection.Name)]
public sealed class EnvironmentSettingTests
{
    private const string FromEnvironment = "Host=from-environment;Database=x;Username=u";

    public static TheoryData<string?> Blanks() => new() { null, "", " ", "\t \n" };

    [Theory]
    [MemberData(nameof(Blanks))]
    public void A_blank_ConnectionString_does_not_hide_DBSYNC_CONNECTION(string? blank) => WithVariable("DBSYNC_CONNECTION", FromEnvironment, () =>
    {
        Assert.Equal(FromEnvironment, new StartDbSyncCommand { ConnectionString = blank }.BuildRequest("/a", null).ConnectionString);
        Assert.Equal(FromEnvironment, new GetDbSyncQuarantineCommand { ConnectionString = blank }.BuildRetryRequest("/a", null).ConnectionString);
        Assert.Equal(FromEnvironment, new GetDbSyncStatusCommand { ConnectionString = blank }.BuildRequest("/a", null).ConnectionString);
        Assert.Equal(FromEnvironment, new TestDbSyncConnectionCommand { ConnectionString = blank }.BuildRequest("/a").ConnectionString);
        Assert.Equal(FromEnvironment, new ResetDbSyncNodeCommand { ConnectionString = blank }.BuildRequest("/a").ConnectionString);
        Assert.Equal(FromEnvironment, new GetDbSyncConflictCommand { ConnectionString = blank }.BuildQuery(null).ConnectionString);
    });

    [Theory]
    [MemberData(nameof(Blanks))]
    public async Task Blank_everywhere_is_no_connection_string_and_gives_ConnectionMissing(string? blank) => await WithVariableAsync("DBSYNC_CONNECTION", blank, async () =>
    {
        // Status and test then do not check a target at all, rather than report a blank one unreachable.
        Assert.Null(new GetDbSyncStatusCommand { ConnectionString = " " }.BuildRequest("/a", null).ConnectionString);
        Assert.Null(new TestDbSyncConnectionCommand { ConnectionString = " " }.BuildRequest("/a").ConnectionString);
        Assert.Null(new ResetDbSyncNodeCommand { ConnectionString = " " }.BuildRequest("/a").ConnectionString);

        var sync = new StartDbSyncCommand { ConnectionString = " " }.BuildRequest("/a", null);
        Assert.Equal(ErrorIds.ConnectionMissing, Assert.Throws<DbSyncException>(() => TargetDatabase.ParseConnectionString(sync.ConnectionString)).ErrorId);

        var conflicts = new GetDbSyncConflictCommand { ConnectionString = " " }.BuildQuery(null);
        var error = await Assert.ThrowsAsync<DbSyncException>(() => new SyncEngine().GetConflictsAsync(conflicts));
        Assert.Equal(ErrorIds.ConnectionMissing, error.ErrorId);
    });

    [Fact]
    public void A_given_ConnectionString_wins_over_DBSYNC_CONNECTION() => WithVariable("DBSYNC_CONNECTION", FromEnvironment, () =>
        Assert.Equal("Host=given", new StartDbSyncCommand { ConnectionString = "Host=given" }.BuildRequest("/a", null).ConnectionString));

    [Theory]
    [MemberData(nameof(Blanks))]
    public void A_blank_DBSYNC_LOG_PATH_counts_as_unset_as_in_Core_and_the_CLI(string? blank) => WithVariable("DBSYNC_LOG_PATH", blank, () =>
    {
        // Null: Core's default backup beside the file, which is what Core (and so the CLI) makes of the same variable.
        Assert.Null(DbSyncCommand.LogPathVariable());
        Assert.Equal("/data/a.sqlite-dbsync-log.jsonl", DbSync.Core.Bookkeeping.RunLog.BackupPathFor("/data/a.sqlite", null));
    });

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("\t")]
    public void A_blank_LogPath_or_BackupPath_counts_as_not_given_as_the_CLIs_log_path(string blank)
    {
        // It was resolved as a file named by the blanks in the PowerShell location.
        Assert.Null(DbSyncCommand.Given(blank));
        Assert.Equal("/logs/a.jsonl", DbSyncCommand.Given("/logs/a.jsonl"));
    }

    [Fact]
    public void A_set_DBSYNC_LOG_PATH_is_used() => WithVariable("DBSYNC_LOG_PATH", "/logs/all.jsonl", () =>
        Assert.Equal("/logs/all.jsonl", DbSyncCommand.LogPathVariable()));

    private static void WithVariable(string name, string? value, Action test) =>
        WithVariableAsync(name, value, () => { test(); return Task.CompletedTask; }).GetAwaiter().GetResult();

    private static async Task WithVariableAsync(string name, string? value, Func<Task> test)
    {
        var saved = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, value);
        try
        {
            await test();
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, saved);
        }
    }
}
