using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.PowerShell.Commands;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// Each cmdlet maps its parameters onto the Core request, and nothing else. The reference library's stubbed
/// SwitchParameter always reads as not present and PSCredential cannot be built here, so switches and -Credential
/// are asserted by the Pester tests, which run the cmdlets in a real pwsh.
/// </summary>
public sealed class RequestMappingTests
{
    [Fact]
    public void Start_DbSync_maps_every_value_parameter_onto_SyncRequest()
    {
        var cmdlet = new StartDbSyncCommand
        {
            ConnectionString = "Host=db;Database=x;Username=u",
            Schema = "sales",
            Table = ["Order*", "Customer"],
            BatchSize = 123,
            LockTimeout = 7,
            BusyTimeout = 9,
            LogPath = "ignored: the resolved path is passed in",
            KeepDays = 14,
            ConflictPolicy = ConflictPolicy.Newest,
            NewestColumn = "UpdatedAt",
            NodePartitioned = ["Basket*", "Order"],
        };
        var request = cmdlet.BuildRequest("/data/a.sqlite", "/logs/a.jsonl");
        Assert.Equal("/data/a.sqlite", request.Path);
        Assert.Equal("Host=db;Database=x;Username=u", request.ConnectionString);
        Assert.Null(request.Credential);
        Assert.Equal("sales", request.Schema);
        Assert.Equal(["Order*", "Customer"], request.Tables);
        Assert.Equal(123, request.BatchSize);
        Assert.Equal(TimeSpan.FromSeconds(7), request.LockTimeout);
        Assert.Equal(TimeSpan.FromSeconds(9), request.BusyTimeout);
        Assert.Equal("/logs/a.jsonl", request.LogPath);
        Assert.Equal(14, request.KeepDays);
        Assert.Equal(ConflictPolicy.Newest, request.ConflictPolicy);
        Assert.Equal("UpdatedAt", request.NewestColumn);
        Assert.Equal(["Basket*", "Order"], request.NodePartitioned);
        Assert.False(request.Resync);
        Assert.False(request.PreserveCase);
        Assert.False(request.PruneBackup);
    }

    [Fact]
    public void Start_DbSync_defaults_are_the_CLI_defaults()
    {
        var request = new StartDbSyncCommand { ConnectionString = "Host=db" }.BuildRequest("/data/a.sqlite", null);
        Assert.Equal("public", request.Schema);
        Assert.Empty(request.Tables);
        Assert.Equal(10_000, request.BatchSize);
        Assert.Equal(TimeSpan.FromSeconds(30), request.LockTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), request.BusyTimeout);
        Assert.Null(request.LogPath);
        Assert.Null(request.KeepDays);
        Assert.Equal(ConflictPolicy.SourceWins, request.ConflictPolicy);
        Assert.Null(request.NewestColumn);
        Assert.Empty(request.NodePartitioned);
    }

    [Fact]
    public void KeepDays_zero_is_passed_on_and_not_confused_with_absent()
    {
        Assert.Equal(0, new StartDbSyncCommand { ConnectionString = "Host=db", KeepDays = 0 }.BuildRequest("/a", null).KeepDays);
    }

    [Fact]
    public void Get_DbSyncStatus_maps_onto_StatusRequest()
    {
        var request = new GetDbSyncStatusCommand { ConnectionString = "Host=db", TargetTimeout = 4 }.BuildRequest("/data/a.sqlite", null);
        Assert.Equal("/data/a.sqlite", request.Path);
        Assert.Equal("Host=db", request.ConnectionString);
        Assert.Equal(TimeSpan.FromSeconds(4), request.TargetTimeout);
        Assert.Null(request.Credential);
        Assert.False(request.Detailed);
        Assert.Null(request.BackupPath);
        Assert.Equal(TimeSpan.FromSeconds(3), new GetDbSyncStatusCommand { ConnectionString = "Host=db" }.BuildRequest("/a", null).TargetTimeout);
        Assert.Equal("/logs/all.jsonl", new GetDbSyncStatusCommand().BuildRequest("/a", "/logs/all.jsonl").BackupPath);
    }

    [Fact]
    public void Test_DbSyncConnection_maps_onto_ConnectionTestRequest()
    {
        var request = new TestDbSyncConnectionCommand { ConnectionString = "Host=db", Schema = "s1", Table = ["T*"], TargetTimeout = 2 }
            .BuildRequest("/data/a.sqlite");
        Assert.Equal("/data/a.sqlite", request.Path);
        Assert.Equal("Host=db", request.ConnectionString);
        Assert.Equal("s1", request.Schema);
        Assert.Equal(["T*"], request.Tables);
        Assert.Equal(TimeSpan.FromSeconds(2), request.TargetTimeout);
        Assert.False(request.PreserveCase);
    }

    [Fact]
    public void Enable_and_Disable_map_onto_their_requests()
    {
        var enable = new EnableDbSyncCommand { Table = ["A", "B?"], LockTimeout = 5, BusyTimeout = 7 }.BuildRequest("/data/a.sqlite");
        Assert.Equal("/data/a.sqlite", enable.Path);
        Assert.Equal(["A", "B?"], enable.Tables);
        Assert.Equal(TimeSpan.FromSeconds(5), enable.LockTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7), enable.BusyTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), new EnableDbSyncCommand().BuildRequest("/a").BusyTimeout);

        var disable = new DisableDbSyncCommand { LockTimeout = 6, BusyTimeout = 0 }.BuildRequest("/data/a.sqlite");
        Assert.Equal("/data/a.sqlite", disable.Path);
        Assert.Equal(TimeSpan.FromSeconds(6), disable.LockTimeout);
        Assert.Equal(TimeSpan.Zero, disable.BusyTimeout);
        Assert.False(disable.Force);
        Assert.False(disable.Purge);
        Assert.Empty(disable.Tables);
        Assert.Equal(["new_*", "gone"], new DisableDbSyncCommand { Table = ["new_*", "gone"] }.BuildRequest("/a").Tables);
    }

    [Fact]
    public void Get_DbSyncLog_maps_onto_LogQuery_with_UTC_since()
    {
        var query = new GetDbSyncLogCommand { Last = 3, Status = RunStatus.Failed, Since = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Unspecified) }
            .BuildQuery("/data/a.sqlite", "/logs/all.jsonl");
        Assert.Equal("/data/a.sqlite", query.Path);
        Assert.Equal("/logs/all.jsonl", query.BackupPath);
        Assert.Equal(3, query.Last);
        Assert.Equal(RunStatus.Failed, query.Status);
        Assert.Equal(new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc), query.Since);
        Assert.Equal(DateTimeKind.Utc, query.Since!.Value.Kind);

        var local = new DateTime(2025, 6, 1, 12, 0, 0, DateTimeKind.Local);
        Assert.Equal(local.ToUniversalTime(), new GetDbSyncLogCommand { Since = local }.BuildQuery("/a", null).Since);

        var none = new GetDbSyncLogCommand().BuildQuery("/a", null);
        Assert.Null(none.Last);
        Assert.Null(none.Since);
        Assert.Null(none.Status);
        Assert.Null(none.BackupPath);

        // Running is the enum's default value: setting it must still filter.
        Assert.Equal(RunStatus.Running, new GetDbSyncLogCommand { Status = RunStatus.Running }.BuildQuery("/a", null).Status);
    }

    [Fact]
    public void Restore_DbSyncLog_maps_onto_RestoreLogRequest()
    {
        var request = new RestoreDbSyncLogCommand().BuildRequest("/data/a.sqlite", "/backup/a.jsonl", whatIf: true);
        Assert.Equal("/data/a.sqlite", request.Path);
        Assert.Equal("/backup/a.jsonl", request.BackupPath);
        Assert.True(request.WhatIf);
        Assert.Null(new RestoreDbSyncLogCommand().BuildRequest("/a", null, whatIf: false).BackupPath);
    }

    [Fact]
    public void Get_DbSyncConflict_maps_onto_ConflictQuery()
    {
        var run = Guid.NewGuid();
        var cmdlet = new GetDbSyncConflictCommand
        {
            ConnectionString = "Host=db",
            Table = ["Order*"],
            RunId = run,
            Since = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Unspecified),
            Last = 7,
        };
        var query = cmdlet.BuildQuery("/data/a.sqlite");
        Assert.Equal("/data/a.sqlite", query.Path);
        Assert.Null(query.NodeId);
        Assert.Equal("Host=db", query.ConnectionString);
        Assert.Null(query.Credential);
        Assert.Equal(["Order*"], query.Tables);
        Assert.Equal(run, query.RunId);
        Assert.Equal(new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc), query.Since);
        Assert.Equal(DateTimeKind.Utc, query.Since!.Value.Kind);
        Assert.Equal(7, query.Last);

        var byNode = new GetDbSyncConflictCommand { ConnectionString = "Host=db", NodeId = "node-1" }.BuildQuery(null);
        Assert.Null(byNode.Path);
        Assert.Equal("node-1", byNode.NodeId);
        Assert.Null(byNode.RunId);
        Assert.Null(byNode.Since);
        Assert.Empty(byNode.Tables);
        Assert.Equal(100, byNode.Last);

        var everyNode = new GetDbSyncConflictCommand { ConnectionString = "Host=db" }.BuildQuery(null);
        Assert.Null(everyNode.Path);
        Assert.Null(everyNode.NodeId);

        // Between piped records PowerShell sets a bound parameter back to what its getter gave: Guid.Empty, not given.
        var piped = new GetDbSyncConflictCommand { ConnectionString = "Host=db", RunId = run };
        piped.RunId = Guid.Empty;
        Assert.Null(piped.BuildQuery("/data/b.sqlite").RunId);
    }

    [Fact]
    public void Get_DbSyncQuarantine_maps_onto_QuarantineQuery_and_its_retry_onto_SyncRequest()
    {
        var cmdlet = new GetDbSyncQuarantineCommand
        {
            ConnectionString = "Host=db",
            Table = ["Track"],
            Schema = "music",
            BatchSize = 50,
            LockTimeout = 3,
            BusyTimeout = 4,
            ConflictPolicy = ConflictPolicy.Fail,
            NodePartitioned = ["Play*"],
        };
        var query = cmdlet.BuildQuery("/data/a.sqlite");
        Assert.Equal("/data/a.sqlite", query.Path);
        Assert.Equal(["Track"], query.Tables);

        var retry = cmdlet.BuildRetryRequest("/data/a.sqlite", "/logs/a.jsonl");
        Assert.Equal("/data/a.sqlite", retry.Path);
        Assert.Equal("Host=db", retry.ConnectionString);
        Assert.Equal(["Track"], retry.Tables);
        Assert.Equal("music", retry.Schema);
        Assert.Equal(50, retry.BatchSize);
        Assert.Equal(TimeSpan.FromSeconds(3), retry.LockTimeout);
        Assert.Equal(TimeSpan.FromSeconds(4), retry.BusyTimeout);
        Assert.Equal("/logs/a.jsonl", retry.LogPath);
        Assert.Equal(ConflictPolicy.Fail, retry.ConflictPolicy);
        Assert.Null(retry.NewestColumn);
        Assert.Equal(["Play*"], retry.NodePartitioned);
        Assert.False(retry.Resync);
        Assert.Null(retry.KeepDays);

        var defaults = new GetDbSyncQuarantineCommand { ConnectionString = "Host=db" }.BuildRetryRequest("/a", null);
        Assert.Equal("public", defaults.Schema);
        Assert.Equal(10_000, defaults.BatchSize);
        Assert.Equal(ConflictPolicy.SourceWins, defaults.ConflictPolicy);
        Assert.Empty(defaults.Tables);
    }

    [Fact]
    public void Reset_DbSyncNode_maps_onto_ResetNodeRequest()
    {
        var request = new ResetDbSyncNodeCommand { ConnectionString = "Host=db", LockTimeout = 8, BusyTimeout = 9 }.BuildRequest("/data/a.sqlite");
        Assert.Equal(TimeSpan.FromSeconds(9), request.BusyTimeout);
        Assert.Equal("/data/a.sqlite", request.Path);
        Assert.Equal("Host=db", request.ConnectionString);
        Assert.Null(request.Credential);
        Assert.Equal(TimeSpan.FromSeconds(8), request.LockTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), new ResetDbSyncNodeCommand().BuildRequest("/a").LockTimeout);
    }

    [Fact]
    public void Continuous_counts_and_names_every_file_given_each_once()
    {
        var cmdlet = new StartDbSyncCommand { ConnectionString = "Host=db" };
        cmdlet.CollectForWatch(["/data/a.sqlite"]);
        Assert.Null(cmdlet.WatchRefusal());
        cmdlet.CollectForWatch(["/data/a.sqlite"]);
        Assert.Null(cmdlet.WatchRefusal());

        // Piped one by one (ProcessRecord per object), or several from one wildcard.
        cmdlet.CollectForWatch(["/data/b.sqlite"]);
        cmdlet.CollectForWatch(["/data/c.sqlite", "/data/d.sqlite", "/data/b.sqlite"]);
        var refusal = cmdlet.WatchRefusal();
        Assert.NotNull(refusal);
        Assert.StartsWith("-Continuous watches one file, and 4 were given ('/data/a.sqlite', '/data/b.sqlite', '/data/c.sqlite', '/data/d.sqlite'); none is watched or synced.", refusal, StringComparison.Ordinal);

        var many = new StartDbSyncCommand();
        many.CollectForWatch(Enumerable.Range(1, 12).Select(i => $"/data/{i}.sqlite"));
        Assert.Contains("12 were given ('/data/1.sqlite', ", many.WatchRefusal(), StringComparison.Ordinal);
        Assert.Contains("'/data/10.sqlite', ...)", many.WatchRefusal(), StringComparison.Ordinal);
    }

    [Fact]
    public void Continuous_is_refused_under_an_inherited_Stop_and_not_under_a_typed_one()
    {
        // $ErrorActionPreference = 'Stop' (about_DbSync's job header) or a $PSDefaultParameterValues -ErrorAction Stop:
        // the first failed run or held row would end the watch.
        var refusal = StartDbSyncCommand.ContinuousErrorActionRefusal(System.Management.Automation.ActionPreference.Stop, typed: false);
        Assert.NotNull(refusal);
        Assert.Contains("-ErrorAction Continue to keep watching", refusal, StringComparison.Ordinal);
        Assert.Contains("-ErrorAction Stop to end the watch at the first one", refusal, StringComparison.Ordinal);

        // -ErrorAction typed on the command is the caller's choice either way; any other action keeps the watch going.
        Assert.Null(StartDbSyncCommand.ContinuousErrorActionRefusal(System.Management.Automation.ActionPreference.Stop, typed: true));
        Assert.Null(StartDbSyncCommand.ContinuousErrorActionRefusal(System.Management.Automation.ActionPreference.Continue, typed: false));
        Assert.Null(StartDbSyncCommand.ContinuousErrorActionRefusal(System.Management.Automation.ActionPreference.SilentlyContinue, typed: false));
        Assert.Null(StartDbSyncCommand.ContinuousErrorActionRefusal(null, typed: false));
    }

    [Fact]
    public void Conflict_policy_rules_are_the_CLI_rules()
    {
        Assert.Null(DbSync.PowerShell.Infrastructure.ConflictOptions.Check(ConflictPolicy.SourceWins, null));
        Assert.Null(DbSync.PowerShell.Infrastructure.ConflictOptions.Check(ConflictPolicy.Newest, "UpdatedAt"));
        Assert.Contains("-NewestColumn", DbSync.PowerShell.Infrastructure.ConflictOptions.Check(ConflictPolicy.Newest, null), StringComparison.Ordinal);
        Assert.Contains("-ConflictPolicy Newest", DbSync.PowerShell.Infrastructure.ConflictOptions.Check(ConflictPolicy.Fail, "UpdatedAt"), StringComparison.Ordinal);
    }
}
