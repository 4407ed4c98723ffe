using System.Text.Json;
using DbSync.Tests.Infrastructure;
using static DbSync.Tests.CliTests;

namespace DbSync.Tests;

/// <summary>
/// The command line of conflict handling, held rows and node identity: the options and commands parse, refuse what
/// they must, and print the documented JSON. What the engine does with conflicts and held rows is tested elsewhere.
/// </summary>
public sealed class ConflictCliTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Theory]
    [InlineData("sync --path x --connection Host=x --conflict-policy Sometimes", "Sometimes")]
    [InlineData("sync --path x --connection Host=x --conflict-policy 1", "'1'")]
    [InlineData("sync --path x --connection Host=x --conflict-policy SourceWins,Fail", "SourceWins,Fail")]
    [InlineData("sync --path x --what-if --conflict-policy Latest", "Latest")]
    [InlineData("sync --path x --watch --conflict-policy Latest", "Latest")]
    [InlineData("quarantine --path x --retry --conflict-policy Latest", "Latest")]
    public async Task An_unknown_conflict_policy_is_a_usage_error_naming_the_value_and_the_policies(string commandLine, string named)
    {
        var (code, stdout, stderr) = await RunCliAsync([.. commandLine.Split(' '), "--json"]);

        Assert.Equal(2, code);
        var json = Json(stdout);
        Assert.Equal("DbSync.UsageError", json.GetProperty("errorId").GetString());
        var message = json.GetProperty("message").GetString()!;
        Assert.Contains(named, message, StringComparison.Ordinal);
        Assert.Contains("SourceWins, TargetWins, Newest, Fail", message, StringComparison.Ordinal);
        Assert.Contains("DbSync.UsageError", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sync --path x --connection Host=x --conflict-policy Newest")]
    [InlineData("sync --path x --connection Host=x --conflict-policy newest --what-if")]
    [InlineData("sync --path x --connection Host=x --newest-column UpdatedAt")]
    [InlineData("sync --path x --connection Host=x --conflict-policy Fail --newest-column UpdatedAt")]
    [InlineData("sync --path x --connection Host=x --watch --newest-column UpdatedAt")]
    [InlineData("sync --path x --connection Host=x --conflict-policy Fail --conflict-policy TargetWins")]
    [InlineData("sync --path x --connection Host=x --newest-column a --newest-column b --conflict-policy Newest")]
    [InlineData("sync --path x --node-partitioned")]
    [InlineData("conflicts --path x --node 6f0f7d1e-3c1b-4f0e-9a55-0c2f3f6b9d21 --connection Host=x")]
    [InlineData("conflicts --connection Host=x --run 42")]
    [InlineData("conflicts --connection Host=x --since yesterday")]
    [InlineData("conflicts --connection Host=x --last 0")]
    [InlineData("conflicts --connection Host=x --last many")]
    [InlineData("conflicts --connection Host=x --retry")]
    [InlineData("quarantine")]
    [InlineData("quarantine --table Track")]
    [InlineData("quarantine --path x --connection Host=x --batch-size 10")]
    [InlineData("quarantine --path x --conflict-policy Fail")]
    [InlineData("quarantine --path x --schema sales")]
    [InlineData("quarantine --path x --preserve-case")]
    [InlineData("quarantine --path x --retry --resync")]
    [InlineData("reset-node")]
    [InlineData("reset-node --path x --force")]
    [InlineData("reset-node --path x --lock-timeout soon")]
    public async Task Usage_errors_of_the_conflict_options_and_commands_exit_2(string commandLine)
    {
        var (code, stdout, stderr) = await RunCliAsync([.. commandLine.Split(' '), "--json"]);

        Assert.True(code == 2, stdout + stderr);
        Assert.Equal("DbSync.UsageError", Json(stdout).GetProperty("errorId").GetString());
    }

    [Fact]
    public async Task Conflict_options_are_case_insensitive_and_node_partitioned_repeats_also_under_what_if()
    {
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);

        var (code, stdout, stderr) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--table", "Genre", "--conflict-policy", "nEWEST", "--newest-column", "Name", "--node-partitioned", "Gen*", "--node-partitioned", "genre",
            "--what-if", "--json");

        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("WhatIf", Json(stdout).GetProperty("status").GetString());
        Assert.Equal(before, SyncFixture.Hash(path));

        // The plan checks the Newest column as the run would: a table without it fails the same way.
        var (missingCode, missing, _) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--table", "Genre", "--conflict-policy", "Newest", "--newest-column", "nosuch", "--what-if", "--json");
        Assert.Equal((1, "DbSync.NewestColumnMissing"), (missingCode, Json(missing).GetProperty("errorId").GetString()));
        Assert.Equal(before, SyncFixture.Hash(path));
    }

    [Fact]
    public async Task Sync_json_tables_carry_conflicts_conflictsResolved_quarantined_and_nodePartitioned()
    {
        var path = _fixture.CopyChinook();

        var (code, stdout, stderr) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--table", "Genre", "--conflict-policy", "targetwins", "--json");

        Assert.True(code == 0, stdout + stderr);
        var json = Json(stdout);
        Assert.Equal(0, json.GetProperty("conflicts").GetInt64());
        Assert.Equal(0, json.GetProperty("conflictsResolved").GetInt64());
        Assert.Equal(0, json.GetProperty("quarantined").GetInt64());
        var table = Assert.Single(json.GetProperty("tables").EnumerateArray());
        Assert.Equal(0, table.GetProperty("conflicts").GetInt64());
        Assert.Equal(0, table.GetProperty("conflictsResolved").GetInt64());
        Assert.Equal(0, table.GetProperty("quarantined").GetInt64());
        Assert.False(table.GetProperty("nodePartitioned").GetBoolean());
    }

    [Fact]
    public async Task Quarantine_on_a_fresh_file_lists_nothing_and_changes_nothing_even_with_retry()
    {
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);

        // Listing reads the file only: a --connection (scripts pass it to every command) is not used.
        var (code, stdout, stderr) = await RunCliAsync("quarantine", "--path", path, "--connection", "Host=127.0.0.1;Port=1;Timeout=1", "--json");
        Assert.True(code == 0, stdout + stderr);
        var json = Json(stdout);
        Assert.Equal("Succeeded", json.GetProperty("status").GetString());
        Assert.Equal(path, json.GetProperty("path").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("retried").ValueKind);
        Assert.Equal(0, json.GetProperty("rows").GetArrayLength());

        // Nothing is held, so nothing is retried: PostgreSQL is not even asked for.
        (code, stdout, stderr) = await RunCliAsync("quarantine", "--path", path, "--retry", "--connection", "Host=127.0.0.1;Port=1;Timeout=1",
            "--conflict-policy", "Fail", "--table", "Track", "--json");
        Assert.True(code == 0, stdout + stderr);
        json = Json(stdout);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("retried").ValueKind);
        Assert.Equal(0, json.GetProperty("rows").GetArrayLength());

        (code, stdout, _) = await RunCliAsync("quarantine", "--path", path, "--table", "Track");
        Assert.Equal(0, code);
        Assert.Contains("No row is held", stdout, StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));
    }

    [Fact]
    public async Task Quarantine_of_a_missing_file_fails_with_SourceNotFound()
    {
        var path = Path.Combine(_fixture.Directory, "missing.sqlite");

        var (code, stdout, _) = await RunCliAsync("quarantine", "--path", path, "--json");

        Assert.Equal(1, code);
        Assert.Equal("DbSync.SourceNotFound", Json(stdout).GetProperty("errorId").GetString());
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Conflicts_of_a_node_without_any_lists_nothing()
    {
        var fresh = _fixture.CopyChinook();

        var (code, stdout, stderr) = await RunCliAsync("conflicts", "--connection", TestServer.ConnectionString, "--node", Guid.NewGuid().ToString(),
            "--table", "Track", "--since", "2020-01-01", "--last", "5", "--json");
        Assert.True(code == 0, stdout + stderr);
        var json = Json(stdout);
        Assert.Equal("Succeeded", json.GetProperty("status").GetString());
        Assert.Equal(0, json.GetProperty("conflicts").GetArrayLength());

        // A file that never synced has no node id yet, so it has no conflicts either.
        (code, stdout, stderr) = await RunCliAsync("conflicts", "--connection", TestServer.ConnectionString, "--path", fresh, "--run", Guid.NewGuid().ToString(), "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(0, Json(stdout).GetProperty("conflicts").GetArrayLength());

        (code, stdout, _) = await RunCliAsync("conflicts", "--connection", TestServer.ConnectionString, "--node", Guid.NewGuid().ToString());
        Assert.Equal(0, code);
        Assert.StartsWith("At (UTC)", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(TestServer.Password, stdout, StringComparison.Ordinal);

        // A node id that is not one is a usage error, not an empty list.
        (code, stdout, _) = await RunCliAsync("conflicts", "--connection", TestServer.ConnectionString, "--node", "not-a-guid", "--json");
        Assert.Equal((2, "DbSync.UsageError"), (code, Json(stdout).GetProperty("errorId").GetString()));
        Assert.Contains("'not-a-guid'", Json(stdout).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Conflicts_without_a_connection_fails_with_ConnectionMissing()
    {
        var (code, stdout, _) = await RunCliAsync("conflicts", "--connection", "", "--json");

        Assert.Equal(1, code);
        Assert.Equal("DbSync.ConnectionMissing", Json(stdout).GetProperty("errorId").GetString());
    }

    [Fact]
    public async Task Reset_node_gives_the_file_a_new_node_id_that_status_shows()
    {
        var path = _fixture.CopyChinook();
        var (enabled, _, _) = await RunCliAsync("enable", "--path", path, "--table", "Genre", "--table", "Artist");
        Assert.Equal(0, enabled);
        var (_, statusBefore, _) = await RunCliAsync("status", "--path", path, "--json");
        var before = Json(statusBefore).GetProperty("nodeId").GetString();
        Assert.True(Guid.TryParse(before, out _));

        var (code, stdout, stderr) = await RunCliAsync("reset-node", "--path", path, "--lock-timeout", "5", "--json");

        Assert.True(code == 0, stdout + stderr);
        var json = Json(stdout);
        Assert.Equal("Succeeded", json.GetProperty("status").GetString());
        Assert.Equal(path, json.GetProperty("path").GetString());
        Assert.Equal(before, json.GetProperty("previousNodeId").GetString());
        var after = json.GetProperty("nodeId").GetString();
        Assert.True(Guid.TryParse(after, out _));
        Assert.NotEqual(before, after);
        Assert.False(json.GetProperty("released").GetBoolean());
        Assert.Equal(["Artist", "Genre"], json.GetProperty("tables").EnumerateArray().Select(t => t.GetString()));

        var (_, statusAfter, _) = await RunCliAsync("status", "--path", path, "--json");
        Assert.Equal(after, Json(statusAfter).GetProperty("nodeId").GetString());

        var (again, text, _) = await RunCliAsync("reset-node", "--path", path);
        Assert.Equal(0, again);
        Assert.Contains($"node {after} -> ", text, StringComparison.Ordinal);
        Assert.Contains("2 table(s) will be copied in full", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reset_node_refuses_a_file_without_DbSync_bookkeeping_and_leaves_it_untouched()
    {
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);

        var (code, stdout, stderr) = await RunCliAsync("reset-node", "--path", path, "--json");

        Assert.Equal(2, code);
        var json = Json(stdout);
        Assert.Equal("DbSync.UsageError", json.GetProperty("errorId").GetString());
        Assert.Contains("never enabled", json.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("DbSync.UsageError", stderr, StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));
        Assert.Empty(Objects(path, "table"));
    }

    [Fact]
    public async Task Help_lists_the_new_commands()
    {
        var (code, stdout, _) = await RunCliAsync("--help");

        Assert.Equal(0, code);
        foreach (var text in new[] { "conflicts", "quarantine", "reset-node", "--conflict-policy", "--newest-column", "--node-partitioned", "--retry" })
        {
            Assert.Contains(text, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_conflict_left_by_Fail_is_listed_by_quarantine_and_conflicts_and_settled_by_a_retry_under_TargetWins()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'one'), (2, 'two');");
        string[] common = ["--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema];
        Assert.Equal(0, (await RunCliAsync(["sync", .. common, "--json"])).Code);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".item SET name = 'pg' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id = 1; UPDATE item SET name = 'TWO' WHERE id = 2;");

        var (code, stdout, stderr) = await RunCliAsync(["sync", .. common, "--conflict-policy", "fail", "--json"]);

        Assert.True(code == 3, stdout + stderr);
        var run = Json(stdout);
        Assert.Equal(("PartiallySucceeded", 1, 0, 1), (run.GetProperty("status").GetString(), run.GetProperty("conflicts").GetInt32(),
            run.GetProperty("conflictsResolved").GetInt32(), run.GetProperty("updated").GetInt32()));

        (code, stdout, stderr) = await RunCliAsync("quarantine", "--path", path, "--json");
        Assert.True(code == 0, stdout + stderr);
        var held = Assert.Single(Json(stdout).GetProperty("rows").EnumerateArray());
        Assert.Equal(("item", "(id=1)", "Conflict"), (held.GetProperty("table").GetString(), held.GetProperty("key").GetString(), held.GetProperty("kind").GetString()));

        (code, stdout, stderr) = await RunCliAsync("conflicts", "--connection", TestServer.ConnectionString, "--path", path, "--json");
        Assert.True(code == 0, stdout + stderr);
        var conflict = Assert.Single(Json(stdout).GetProperty("conflicts").EnumerateArray());
        Assert.Equal(("Changed", "Fail", "None"), (conflict.GetProperty("kind").GetString(), conflict.GetProperty("policy").GetString(), conflict.GetProperty("winner").GetString()));
        Assert.Equal(("local", "pg"), (conflict.GetProperty("sourceRow").GetProperty("name").GetString(), conflict.GetProperty("targetRow").GetProperty("name").GetString()));
        Assert.Equal(1, conflict.GetProperty("key").GetProperty("id").GetInt32());

        (code, stdout, stderr) = await RunCliAsync(["quarantine", .. common, "--retry", "--conflict-policy", "TargetWins", "--json"]);
        Assert.True(code == 0, stdout + stderr);
        var retry = Json(stdout);
        Assert.Equal("Succeeded", retry.GetProperty("status").GetString());
        Assert.Equal(1, retry.GetProperty("retried").GetProperty("conflictsResolved").GetInt32());
        Assert.Equal(0, retry.GetProperty("rows").GetArrayLength());
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var read = sqlite.CreateCommand();
        read.CommandText = "SELECT name FROM item WHERE id = 1";
        Assert.Equal("pg", read.ExecuteScalar());
        TableComparer.AssertIdentical(path, _fixture.Schema);
    }
}
