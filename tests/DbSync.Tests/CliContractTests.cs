using System.Text.Json;
using DbSync.Tests.Infrastructure;
using static DbSync.Tests.CliTests;

namespace DbSync.Tests;

/// <summary>
/// Where the CLI differed from docs/cli.md (the CLI exploration's report): ranges, exit codes and JSON on stdout in
/// the edge cases, connection fallbacks, and what goes to stderr.
/// </summary>
public sealed class CliContractTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Theory]
    [InlineData("status", "--target-timeout", "0", "1 to 600")]
    [InlineData("status", "--target-timeout", "601", "1 to 600")]
    [InlineData("status", "--target-timeout", "1025", "1 to 600")]
    [InlineData("test", "--target-timeout", "0", "1 to 600")]
    [InlineData("test", "--target-timeout", "2000", "1 to 600")]
    [InlineData("sync", "--interval", "0", "1 to 86400")]
    [InlineData("sync", "--interval", "86401", "1 to 86400")]
    public async Task An_option_outside_the_cmdlets_range_is_a_usage_error_naming_the_range(string command, string option, string value, string range)
    {
        // --target-timeout took any number: 0 reported a healthy server unreachable, and above 1024 Npgsql threw and the
        // process crashed (exit 134, nothing on stdout). --interval took any number of 1 or more.
        // A watch on a missing file ends at once (exit 1), where a watch that took the interval would run for ever.
        var path = command == "sync" ? Path.Combine(_fixture.Directory, "missing.sqlite") : _fixture.CopyChinook();
        string[] watch = command == "sync" ? ["--watch"] : [];

        var (code, stdout, stderr) = await RunCliAsync([command, "--path", path, "--connection", TestServer.ConnectionString, .. watch, option, value, "--json"]);

        Assert.True(code == 2, stdout + stderr);
        var json = Json(stdout);
        Assert.Equal("DbSync.UsageError", json.GetProperty("errorId").GetString());
        Assert.Contains($"{option} needs a whole number from {range}, not '{value}'", json.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_largest_target_timeout_the_cmdlet_takes_works()
    {
        var path = _fixture.CopyChinook();

        var (code, stdout, stderr) = await RunCliAsync("status", "--path", path, "--connection", TestServer.ConnectionString, "--target-timeout", "600", "--json");

        Assert.True(code == 0, stdout + stderr);
        Assert.True(Json(stdout).GetProperty("targetReachable").GetBoolean());
    }

    [Fact]
    public async Task Conflicts_finds_a_node_and_a_run_by_any_spelling_of_their_GUID()
    {
        // node_id was compared as text: an upper-case, braced or hyphen-less GUID, which the --node check accepts,
        // listed nothing, exit 0, so a monitoring script reported "no conflicts".
        var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'one');");
        string[] common = ["--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema];
        Assert.Equal(0, (await RunCliAsync(["sync", .. common])).Code);
        _fixture.PgExecute($"UPDATE \"{_fixture.Schema}\".item SET name = 'pg' WHERE id = 1");
        SyncFixture.Execute(path, "UPDATE item SET name = 'local' WHERE id = 1");
        var (code, stdout, stderr) = await RunCliAsync(["sync", .. common, "--conflict-policy", "Fail", "--json"]);
        Assert.True(code == 3, stdout + stderr);
        var runId = Guid.Parse(Json(stdout).GetProperty("runId").GetString()!);
        var nodeId = Guid.Parse(Json(stdout).GetProperty("nodeId").GetString()!);

        foreach (var format in new[] { "D", "N", "B", "P" })
        {
            foreach (var spelling in new[] { nodeId.ToString(format), nodeId.ToString(format).ToUpperInvariant() })
            {
                (code, stdout, stderr) = await RunCliAsync("conflicts", "--connection", TestServer.ConnectionString, "--node", spelling, "--json");
                Assert.True(code == 0, stdout + stderr);
                var conflict = Assert.Single(Json(stdout).GetProperty("conflicts").EnumerateArray());
                Assert.Equal(nodeId.ToString(), conflict.GetProperty("nodeId").GetString());
            }
        }

        (code, stdout, stderr) = await RunCliAsync("conflicts", "--connection", TestServer.ConnectionString, "--run", runId.ToString("B").ToUpperInvariant(), "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(runId.ToString(), Assert.Single(Json(stdout).GetProperty("conflicts").EnumerateArray()).GetProperty("runId").GetString());
    }

    [Fact]
    public async Task Conflicts_needs_a_connection_string_also_for_a_file_that_never_synced_and_checks_its_options_first()
    {
        // With no node id in the file, conflicts returned [] (exit 0) before it looked for a connection string, and a bad
        // --node without one gave ConnectionMissing, not the usage error.
        var fresh = _fixture.CopyChinook();
        var unset = new Dictionary<string, string?> { ["DBSYNC_CONNECTION"] = null };

        var (code, stdout, stderr) = await RunCliProcessAsync(unset, "conflicts", "--path", fresh, "--json");
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("DbSync.ConnectionMissing", Json(stdout).GetProperty("errorId").GetString());

        (code, stdout, stderr) = await RunCliProcessAsync(unset, "conflicts", "--node", "bogus", "--json");
        Assert.True(code == 2, stdout + stderr);
        Assert.Equal("DbSync.UsageError", Json(stdout).GetProperty("errorId").GetString());
        Assert.Contains("'bogus'", Json(stdout).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_connection_option_counts_as_unset_and_the_variable_is_used()
    {
        // An explicit --connection "" hid DBSYNC_CONNECTION and failed with "No PostgreSQL connection string was given
        // (--connection or DBSYNC_CONNECTION)", though the variable was set.
        var path = _fixture.CopyChinook();
        var set = new Dictionary<string, string?> { ["DBSYNC_CONNECTION"] = TestServer.ConnectionString };

        var (code, stdout, stderr) = await RunCliProcessAsync(set, "sync", "--path", path, "--connection", "", "--schema", _fixture.Schema, "--table", "Genre", "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(25, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".genre"));

        (code, stdout, stderr) = await RunCliProcessAsync(set, "status", "--path", path, "--connection", " ", "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.True(Json(stdout).GetProperty("targetReachable").GetBoolean());

        // With neither, the message is still the one that names both.
        var unset = new Dictionary<string, string?> { ["DBSYNC_CONNECTION"] = null };
        (code, stdout, stderr) = await RunCliProcessAsync(unset, "sync", "--path", path, "--connection", "", "--json");
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("DbSync.ConnectionMissing", Json(stdout).GetProperty("errorId").GetString());
    }

    [Fact]
    public async Task A_blank_log_path_option_counts_as_unset_and_the_variable_is_used()
    {
        // A blank --log-path skipped DBSYNC_LOG_PATH for the backup beside the file, where a blank --connection counts
        // as unset and the variable applies (and the module's blank -LogPath now does the same).
        var path = _fixture.CopyChinook();
        var shared = Path.Combine(_fixture.Directory, "shared-log.jsonl");
        var set = new Dictionary<string, string?> { ["DBSYNC_LOG_PATH"] = shared };

        var (code, stdout, stderr) = await RunCliProcessAsync(set, "sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--table", "Genre", "--log-path", "  ", "--json");

        Assert.True(code == 0, stdout + stderr);
        Assert.Contains(Json(stdout).GetProperty("runId").GetString()!, File.ReadAllText(shared), StringComparison.Ordinal);
        Assert.False(File.Exists(path + "-dbsync-log.jsonl"));
    }

    [Theory]
    [InlineData("status --path x --json=false")]
    [InlineData("status --path x --json=true")]
    [InlineData("--version --json=true")]
    public async Task A_json_switch_with_a_value_is_a_usage_error_that_still_prints_the_error_object(string commandLine)
    {
        // Exit 2 as documented, but stdout was empty: --json was looked for as exactly "--json".
        var (code, stdout, stderr) = await RunCliAsync(commandLine.Split(' '));

        Assert.True(code == 2, stdout + stderr);
        Assert.Equal("DbSync.UsageError", Json(stdout).GetProperty("errorId").GetString());
        Assert.Contains("--json", Json(stdout).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("help bogus", "Unknown command 'bogus'")]
    [InlineData("help sync extra", "'sync extra'")]
    [InlineData("--help sync", "'sync'")]
    [InlineData("-h --anything", "'--anything'")]
    [InlineData("help --json", "'--json'")]
    [InlineData("sync --help --json", "without --json")]
    public async Task Help_with_an_unknown_command_or_another_argument_is_a_usage_error(string commandLine, string named)
    {
        // They printed the general help with exit 0, an unknown command included.
        var (code, stdout, stderr) = await RunCliAsync(commandLine.Split(' '));

        Assert.True(code == 2, stdout + stderr);
        Assert.StartsWith("dbsync: DbSync.UsageError: ", stderr, StringComparison.Ordinal);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
        if (commandLine.Contains("--json", StringComparison.Ordinal))
        {
            Assert.Equal("DbSync.UsageError", Json(stdout).GetProperty("errorId").GetString());
        }
        else
        {
            Assert.Empty(stdout);
        }
    }

    [Fact]
    public async Task Help_and_version_in_every_documented_spelling_exit_0()
    {
        foreach (var args in new[] { new[] { "--help" }, ["-h"], ["help"] })
        {
            var (code, stdout, _) = await RunCliAsync(args);
            Assert.Equal(0, code);
            Assert.Contains("reset-node", stdout, StringComparison.Ordinal);
        }

        foreach (var args in new[] { new[] { "help", "log" }, ["log", "-h"], ["log", "--help"] })
        {
            var (code, stdout, _) = await RunCliAsync(args);
            Assert.Equal(0, code);
            Assert.StartsWith("dbsync log: ", stdout, StringComparison.Ordinal);
        }

        Assert.Equal(0, (await RunCliAsync("version")).Code);
    }

    [Fact]
    public async Task A_commands_help_shows_path_as_required_and_names_each_value()
    {
        // Every option read "[--path VALUE]": the help called the one option each file command needs optional.
        var (code, stdout, _) = await RunCliAsync("sync", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage: dbsync sync --path FILE [--connection CONNSTR]", stdout, StringComparison.Ordinal);
        Assert.Contains("[--table PATTERN...]", stdout, StringComparison.Ordinal);
        Assert.Contains("[--conflict-policy SourceWins|TargetWins|Newest|Fail]", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("VALUE", stdout, StringComparison.Ordinal);

        // conflicts reads PostgreSQL alone: --path is one way to name the node, not required.
        (code, stdout, _) = await RunCliAsync("help", "conflicts");
        Assert.Equal(0, code);
        Assert.Contains("[--path FILE]", stdout, StringComparison.Ordinal);

        (code, stdout, _) = await RunCliAsync("--help");
        Assert.Contains("--path FILE [--last N] [--since ISO-8601] [--status STATUS] [--json]", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_command_is_a_usage_error_on_stderr_with_the_usage_text()
    {
        // The help went to stdout, with exit 2 and no usage error line.
        var (code, stdout, stderr) = await RunCliAsync();

        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.StartsWith("dbsync: DbSync.UsageError: No command given.", stderr, StringComparison.Ordinal);
        Assert.Contains("Usage: dbsync <command>", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("0")]
    public async Task Every_batch_size_below_1_gets_the_same_message(string value)
    {
        // -1 got "a whole number of 0 or more", and then 0 "must be at least 1".
        var (code, stdout, _) = await RunCliAsync("sync", "--path", "x", "--connection", "Host=x", "--batch-size", value, "--json");

        Assert.Equal(2, code);
        Assert.Equal($"Option --batch-size needs a whole number of 1 or more, not '{value}'.", Json(stdout).GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("--lock-timeout", "99999999999")]
    [InlineData("--lock-timeout", "2147483648")]
    [InlineData("--batch-size", "000000000000000000099999999999")]
    public async Task A_whole_number_too_large_for_an_option_is_told_the_limit(string option, string value)
    {
        // It was told it "needs a whole number of 0 or more", which it is (ops exploration, F10).
        var (code, stdout, _) = await RunCliAsync("sync", "--path", "x", "--connection", "Host=x", option, value, "--json");

        Assert.Equal(2, code);
        Assert.Equal($"Option {option} needs a whole number from {(option == "--batch-size" ? 1 : 0)} to 2147483647, not '{value}'.", Json(stdout).GetProperty("message").GetString());
    }

    [Fact]
    public async Task An_empty_newest_column_is_a_usage_error_before_any_run()
    {
        // The CLI let it through to Core, which refused it as a run: with a runId, and an attempt in the backup.
        var path = _fixture.CopyChinook();

        var (code, stdout, stderr) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--conflict-policy", "Newest", "--newest-column=", "--json");

        Assert.True(code == 2, stdout + stderr);
        var json = Json(stdout);
        Assert.Equal("DbSync.UsageError", json.GetProperty("errorId").GetString());
        Assert.Contains("--newest-column", json.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(json.TryGetProperty("runId", out _), stdout);
        Assert.False(File.Exists(path + "-dbsync-log.jsonl"), "a usage error is no run and is not logged");
    }

    [Theory]
    [InlineData("log", "log was cancelled; it only reads, and nothing was changed.")]
    [InlineData("quarantine", "quarantine was cancelled; listing only reads, and nothing was changed.")]
    public async Task A_cancelled_read_only_command_does_not_speak_of_a_run(string command, string message)
    {
        // They said "The run was cancelled; nothing of it was applied." Another program's exclusive lock keeps the
        // command waiting (the busy timeout, 30 s), so SIGTERM finds it under way.
        var path = _fixture.CopyChinook();
        Assert.Equal(0, (await RunCliAsync("enable", "--path", path, "--table", "Genre")).Code);
        using var holder = SyncFixture.OpenSqlite(path);
        SyncFixture.Execute(holder, "BEGIN EXCLUSIVE");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "dbsync.dll"), command, "--path", path, "--json" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // Signalled once it has the file open (so its handler is registered and it waits for the lock): a SIGTERM
        // during the runtime's start-up is not the command's to handle.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && !process.HasExited && !HasOpen(process.Id, path))
        {
            await Task.Delay(20);
        }

        await Task.Delay(200);
        Assert.False(process.HasExited, "it did not wait for the lock");
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await process.WaitForExitAsync();
        SyncFixture.Execute(holder, "ROLLBACK");

        Assert.True(process.ExitCode == 130, await stdout + await stderr);
        var json = Json(await stdout);
        Assert.Equal(("Cancelled", "DbSync.Cancelled"), (json.GetProperty("status").GetString(), json.GetProperty("errorId").GetString()));
        Assert.Equal(message, json.GetProperty("message").GetString());
        Assert.Contains(message, await stderr, StringComparison.Ordinal);

        static bool HasOpen(int pid, string file)
        {
            try
            {
                return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Any(fd => new FileInfo(fd).LinkTarget == file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return false; // it exited, or an fd closed while listed
            }
        }
    }

    [Fact]
    public async Task Quarantine_retry_with_nothing_held_still_needs_a_target_and_tables_that_exist()
    {
        // Both exited 0 while no row was held, hiding a job's misconfiguration until a row was.
        var path = _fixture.CopyChinook();
        var unset = new Dictionary<string, string?> { ["DBSYNC_CONNECTION"] = null };

        var (code, stdout, stderr) = await RunCliProcessAsync(unset, "quarantine", "--path", path, "--retry", "--json");
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("DbSync.ConnectionMissing", Json(stdout).GetProperty("errorId").GetString());

        (code, stdout, stderr) = await RunCliAsync("quarantine", "--path", path, "--retry", "--connection", TestServer.ConnectionString, "--table", "Nope*", "--json");
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("DbSync.TableNotFound", Json(stdout).GetProperty("errorId").GetString());
        Assert.Contains("Nope*", Json(stdout).GetProperty("message").GetString(), StringComparison.Ordinal);

        // A pattern that matches a table holding nothing is no error: nothing to retry.
        (code, stdout, stderr) = await RunCliAsync("quarantine", "--path", path, "--retry", "--connection", TestServer.ConnectionString, "--table", "Track", "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(JsonValueKind.Null, Json(stdout).GetProperty("retried").ValueKind);
    }

    [Fact]
    public async Task With_json_the_warnings_and_a_partial_runs_skipped_tables_still_go_to_stderr()
    {
        // stderr stayed empty under --json: a cron job mailing it heard nothing of a PartiallySucceeded run.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE good (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO good VALUES (1, 'a');
            CREATE TABLE odd (id INTEGER PRIMARY KEY, xmin INTEGER); INSERT INTO odd VALUES (1, 2);
            CREATE TABLE loose (name TEXT); INSERT INTO loose VALUES ('no key');
            """);

        var (code, stdout, stderr) = await RunCliAsync("enable", "--path", path, "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("warning: ", stderr, StringComparison.Ordinal);
        Assert.Contains("loose", stderr, StringComparison.Ordinal);

        (code, stdout, stderr) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--json");

        Assert.True(code == 3, stdout + stderr);
        var json = Json(stdout);
        Assert.Equal("PartiallySucceeded", json.GetProperty("status").GetString());
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("warning: ", StringComparison.Ordinal) && l.Contains("loose", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("dbsync: table odd was skipped: DbSync.ReservedName: ", StringComparison.Ordinal));
        Assert.Equal(json.GetProperty("warnings").GetArrayLength() + 1, lines.Length);
    }

    [Fact]
    public async Task Sync_what_if_refuses_a_node_partitioned_pattern_that_matches_no_table_and_the_run_refuses_it_before_writing()
    {
        // --what-if printed the plan, exit 0; the run failed TableNotFound only after installing capture and logging a
        // Failed run (contract exploration, F1).
        var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'one');");
        string[] common = ["sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--node-partitioned", "Itemz", "--json"];
        var before = SyncFixture.Hash(path);

        var (code, stdout, stderr) = await RunCliAsync([.. common, "--what-if"]);
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("DbSync.TableNotFound", Json(stdout).GetProperty("errorId").GetString());
        Assert.Contains("--node-partitioned 'Itemz' matches no synced table", Json(stdout).GetProperty("message").GetString(), StringComparison.Ordinal);

        (code, stdout, stderr) = await RunCliAsync(common);
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("DbSync.TableNotFound", Json(stdout).GetProperty("errorId").GetString());
        Assert.Equal(before, SyncFixture.Hash(path));
        Assert.False(SyncFixture.RunLogged(path));
    }

    [Fact]
    public async Task Enable_what_if_on_a_file_a_newer_DbSync_wrote_fails_as_enable_does()
    {
        // It reported Succeeded, exit 0, where enable fails NewerSchemaVersion (contract exploration, F2).
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);");
        Assert.Equal(0, (await RunCliAsync("enable", "--path", path)).Code);
        SyncFixture.Execute(path, "UPDATE _dbsync_meta SET value = '99' WHERE key = 'schema_version'");

        foreach (var whatIf in new[] { true, false })
        {
            var (code, stdout, stderr) = await RunCliAsync(["enable", "--path", path, .. whatIf ? new[] { "--what-if" } : [], "--json"]);
            Assert.True(code == 1, stdout + stderr);
            Assert.Equal("DbSync.NewerSchemaVersion", Json(stdout).GetProperty("errorId").GetString());
        }
    }

    [Fact]
    public async Task Help_version_and_version_help_print_the_version_commands_usage()
    {
        // `dbsync help version` was "Unknown command 'version'", exit 2, though cli.md lists `dbsync version` (F5).
        foreach (var args in new[] { new[] { "help", "version" }, ["version", "--help"], ["version", "-h"] })
        {
            var (code, stdout, stderr) = await RunCliAsync(args);
            Assert.True(code == 0, stdout + stderr);
            Assert.StartsWith("dbsync version: ", stdout, StringComparison.Ordinal);
        }

        Assert.Contains("version", (await RunCliAsync("help")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restore_log_what_if_does_not_wait_for_the_run_lock()
    {
        // It waited the 30 s lock timeout behind a running sync and failed LockTimeout, exit 4 (F6).
        var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'one');");
        Assert.Equal(0, (await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema)).Code);
        using (await DbSync.Core.Bookkeeping.RunLock.AcquireAsync(path, TimeSpan.Zero, CancellationToken.None))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (code, stdout, stderr) = await RunCliAsync("restore-log", "--path", path, "--what-if", "--json");
            Assert.True(code == 0, stdout + stderr);
            Assert.True(Json(stdout).GetProperty("whatIf").GetBoolean());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
        }
    }

    [Theory]
    [InlineData(null, "DbSync.ConnectionMissing")]
    [InlineData("Host=localhost;Bogus Key=1", "DbSync.InvalidConnectionString")]
    public async Task A_watch_without_a_usable_connection_string_fails_at_once(string? connection, string errorId)
    {
        // It retried ConnectionMissing for ever, a failed line and a backup line each time, though nothing can heal it (F7).
        var path = _fixture.CreateDatabase("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT);");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "dbsync.dll"), "sync", "--path", path, "--watch", "--json" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DBSYNC_CONNECTION"] = connection;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"the watch was still running after 30 s: {await stdout}");
        }

        Assert.True(process.ExitCode == 1, await stdout + await stderr);
        Assert.Equal(errorId, Json(await stdout).GetProperty("errorId").GetString());
        Assert.False(File.Exists(path + "-dbsync-log.jsonl"));
    }

    [Fact]
    public async Task A_read_only_command_on_a_locked_file_says_how_long_it_waited_without_naming_an_option_it_lacks()
    {
        // log said the file "stayed locked ... longer than the busy timeout", an option log does not take (F3).
        var path = _fixture.CopyChinook();
        Assert.Equal(0, (await RunCliAsync("enable", "--path", path, "--table", "Genre")).Code);
        using var holder = SyncFixture.OpenSqlite(path);
        SyncFixture.Execute(holder, "BEGIN EXCLUSIVE");

        var (code, stdout, stderr) = await RunCliAsync("log", "--path", path, "--json");

        Assert.True(code == 1, stdout + stderr);
        var message = Json(stdout).GetProperty("message").GetString()!;
        Assert.Equal("DbSync.SourceBusy", Json(stdout).GetProperty("errorId").GetString());
        Assert.Contains("stayed locked by another program for the whole 30 s DbSync waited for its lock (--busy-timeout sets that wait where the command takes it)", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_busy_file_says_the_seconds_the_command_waited()
    {
        // The message gave a range ("up to 30 s") whatever the command had waited: sync's --busy-timeout 1 or test's 2 s.
        var path = _fixture.CopyChinook();
        Assert.Equal(0, (await RunCliAsync("enable", "--path", path, "--table", "Genre")).Code);
        using var holder = SyncFixture.OpenSqlite(path);
        SyncFixture.Execute(holder, "BEGIN EXCLUSIVE");

        var (code, stdout, stderr) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--busy-timeout", "1", "--json");

        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("DbSync.SourceBusy", Json(stdout).GetProperty("errorId").GetString());
        Assert.Contains("for the whole 1 s DbSync waited for its lock", Json(stdout).GetProperty("message").GetString()!, StringComparison.Ordinal);
    }
}
