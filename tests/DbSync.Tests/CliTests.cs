using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.Cli;
using DbSync.Tests.Infrastructure;
using Npgsql;

namespace DbSync.Tests;

public sealed class CliTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    internal static async Task<(int Code, string Stdout, string Stderr)> RunCliAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await CliApp.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs the built CLI as its own process, with <paramref name="environment"/> added to (or, for null values, removed from) its environment.</summary>
    internal static async Task<(int Code, string Stdout, string Stderr)> RunCliProcessAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dbsync.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The one JSON object a command printed on one line of stdout.</summary>
    internal static JsonElement Json(string stdout)
    {
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        return JsonDocument.Parse(lines[0]).RootElement;
    }

    [Theory]
    [InlineData(">/dev/full")]
    [InlineData(">&-")]
    [InlineData(">/dev/full 2>/dev/full")]
    public async Task A_closed_or_full_stdout_is_said_on_stderr_and_leaves_the_exit_code_the_commands(string redirection)
    {
        // Ops exploration F1: the result could not be printed, the last-resort handler failed writing its failure object to
        // the same stream, and the process died by SIGABRT (exit 134, a stack trace), a sync that committed included.
        var path = Path.Combine(Path.GetTempPath(), $"dbsync-stdout-{Guid.NewGuid():N}.sqlite");
        try
        {
            using (var sqlite = SyncFixture.OpenSqlite(path, create: true))
            {
                SyncFixture.Execute(sqlite, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
            }

            foreach (var (command, expected) in new[] { ($"status --path '{path}' --json", 0), ($"status --path '{path}.missing' --json", 1) })
            {
                var start = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardError = true };
                start.ArgumentList.Add("-c");
                start.ArgumentList.Add($"dotnet '{Path.Combine(AppContext.BaseDirectory, "dbsync.dll")}' {command} {redirection}");
                using var process = System.Diagnostics.Process.Start(start)!;
                var stderr = await process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();

                Assert.True(process.ExitCode == expected, $"{command} {redirection}: exit {process.ExitCode}: {stderr}");
                Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
                if (!redirection.Contains("2>", StringComparison.Ordinal))
                {
                    Assert.Contains("dbsync: stdout could not be written", stderr, StringComparison.Ordinal);
                }
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Version_is_text_or_with_json_one_object_and_takes_no_other_option()
    {
        Assert.Equal((0, $"dbsync {SyncEngine.Version}"), Trimmed(await RunCliAsync("--version")));
        var (code, stdout, _) = await RunCliAsync("--version", "--json");
        Assert.Equal(0, code);
        Assert.Equal(SyncEngine.Version, JsonNode.Parse(stdout)!["version"]!.GetValue<string>());
        // Spelt as the run log and a run's JSON spell it ('0.1.0+abcdef1'), not '0.1.0\u002Babcdef1', which a text search
        // for the version missed (today's exploration, F5).
        Assert.Contains($"\"{SyncEngine.Version}\"", stdout, StringComparison.Ordinal);

        (code, stdout, _) = await RunCliAsync("version", "--path", "x.sqlite", "--json");
        Assert.Equal(2, code);
        Assert.Equal("DbSync.UsageError", JsonNode.Parse(stdout)!["errorId"]!.GetValue<string>());
        Assert.Contains("'--path'", JsonNode.Parse(stdout)!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        static (int, string) Trimmed((int Code, string Stdout, string Stderr) run) => (run.Code, run.Stdout.Trim());
    }

    [Fact]
    public async Task Each_command_has_its_own_help_and_a_help_that_is_an_options_value_stays_its_value()
    {
        // `dbsync sync --help` was a usage error (exit 2): only the list of every command existed.
        foreach (var args in new[] { new[] { "sync", "--help" }, ["help", "sync"], ["sync", "--path", "x.sqlite", "-h"] })
        {
            var (code, stdout, _) = await RunCliAsync(args);

            Assert.Equal(0, code);
            Assert.StartsWith("dbsync sync: ", stdout, StringComparison.Ordinal);
            Assert.Contains("[--busy-timeout SECONDS]", stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("reset-node", stdout, StringComparison.Ordinal);
        }

        // The value of --table: the command runs (and fails on the missing --path), it does not print help.
        var (valueCode, valueOut, _) = await RunCliAsync("sync", "--table", "--help", "--json");
        Assert.Equal(2, valueCode);
        Assert.Contains("--path", JsonDocument.Parse(valueOut).RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sync_json_reports_the_documented_fields()
    {
        var path = _fixture.CopyChinook();

        var (code, stdout, _) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
            "--table", "Art*", "--table", "al?um", "--json");

        Assert.Equal(0, code);
        var json = Json(stdout);
        Assert.True(Guid.TryParse(json.GetProperty("runId").GetString(), out _));
        Assert.Equal("Succeeded", json.GetProperty("status").GetString());
        Assert.Equal(275 + 347, json.GetProperty("inserted").GetInt64());
        Assert.Equal(0, json.GetProperty("updated").GetInt64());
        Assert.Equal(0, json.GetProperty("deleted").GetInt64());
        Assert.True(json.GetProperty("durationMs").GetInt64() >= 0);
        var tables = json.GetProperty("tables").EnumerateArray().ToList();
        Assert.Equal(["Artist", "Album"], tables.Select(t => t.GetProperty("name").GetString()));
        Assert.Equal($"\"{_fixture.Schema}\".\"album\"", tables[1].GetProperty("target").GetString());
        Assert.Equal(347, tables[1].GetProperty("inserted").GetInt64());
        Assert.Equal(0, tables[1].GetProperty("updated").GetInt64());
        Assert.Equal(0, tables[1].GetProperty("deleted").GetInt64());
        Assert.DoesNotContain(TestServer.Password, stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enable_what_if_names_the_tables_it_would_capture_and_changes_nothing()
    {
        var path = _fixture.CopyChinook();
        SyncFixture.Execute(path, "CREATE TABLE AlNoKey (a TEXT)");
        var before = SyncFixture.Hash(path);

        var (code, stdout, _) = await RunCliAsync("enable", "--path", path, "--table", "Al*", "--what-if", "--json");

        Assert.Equal(0, code);
        var json = Json(stdout);
        Assert.True(json.GetProperty("whatIf").GetBoolean());
        Assert.Equal(["Album"], json.GetProperty("tables").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(JsonValueKind.Null, json.GetProperty("nodeId").ValueKind);
        Assert.Contains("'AlNoKey' has no primary key", json.GetProperty("warnings")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));

        var (textCode, text, errors) = await RunCliAsync("enable", "--path", path, "--table", "Al*", "--what-if");
        Assert.Equal(0, textCode);
        Assert.Contains("Capture would be enabled on", text, StringComparison.Ordinal);
        Assert.Contains("AlNoKey", errors, StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));

        var enabled = Json((await RunCliAsync("enable", "--path", path, "--table", "Al*", "--json")).Stdout);
        Assert.False(enabled.GetProperty("whatIf").GetBoolean());
        Assert.Equal(["Album"], enabled.GetProperty("tables").EnumerateArray().Select(t => t.GetString()));
    }

    [Theory]
    [InlineData("enable")]
    [InlineData("disable")]
    [InlineData("reset-node")]
    public async Task Enable_disable_and_reset_node_take_a_busy_timeout(string command)
    {
        var path = _fixture.CopyChinook();
        Assert.Equal(0, (await RunCliAsync("enable", "--path", path)).Code);
        var before = SyncFixture.Hash(path);

        using (var holder = SyncFixture.OpenSqlite(path))
        {
            SyncFixture.Execute(holder, "BEGIN EXCLUSIVE");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (code, stdout, _) = await RunCliAsync(command, "--path", path, "--busy-timeout", "1", "--json");
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4));
            Assert.Equal(1, code);
            Assert.Equal("DbSync.SourceBusy", Json(stdout).GetProperty("errorId").GetString());
            SyncFixture.Execute(holder, "ROLLBACK");
        }

        Assert.Equal(before, SyncFixture.Hash(path));
        Assert.Equal(2, (await RunCliAsync(command, "--path", path, "--busy-timeout", "x")).Code);
        // Unlocked, even 0 is enough.
        Assert.Equal(0, (await RunCliAsync(command, "--path", path, "--busy-timeout", "0")).Code);
    }

    [Fact]
    public async Task Connection_falls_back_to_DBSYNC_CONNECTION_and_password_to_PGPASSWORD()
    {
        var path = _fixture.CopyChinook();
        var builder = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString);
        var password = builder.Password!;
        builder.Password = null;
        var passwordless = builder.ConnectionString;
        Environment.SetEnvironmentVariable("DBSYNC_CONNECTION", passwordless);
        Environment.SetEnvironmentVariable("PGPASSWORD", password);
        try
        {
            var (code, stdout, stderr) = await RunCliAsync("sync", "--path", path, "--schema", _fixture.Schema, "--table", "Genre", "--json");
            Assert.True(code == 0, stderr);
            Assert.Equal(25, Json(stdout).GetProperty("inserted").GetInt64());
        }
        finally
        {
            Environment.SetEnvironmentVariable("DBSYNC_CONNECTION", null);
            Environment.SetEnvironmentVariable("PGPASSWORD", null);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task An_empty_or_blank_DBSYNC_CONNECTION_counts_as_unset_for_test_and_status(string value)
    {
        // A systemd unit's Environment=DBSYNC_CONNECTION= made `test` fail Target.ConnectionString (exit 1) and `status`
        // report the target unreachable, where an unset variable checks the source only.
        var path = _fixture.CopyChinook();
        var environment = new Dictionary<string, string?> { ["DBSYNC_CONNECTION"] = value };

        var (testCode, testOut, testErr) = await RunCliProcessAsync(environment, "test", "--path", path, "--json");
        Assert.True(testCode == 0, testOut + testErr);
        var checks = Json(testOut).GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToList();
        Assert.Contains("Source.File", checks);
        Assert.DoesNotContain(checks, c => c.StartsWith("Target.", StringComparison.Ordinal));

        var (statusCode, statusOut, statusErr) = await RunCliProcessAsync(environment, "status", "--path", path, "--json");
        Assert.True(statusCode == 0, statusOut + statusErr);
        var status = Json(statusOut);
        Assert.Equal(JsonValueKind.Null, status.GetProperty("targetReachable").ValueKind);
        Assert.Equal(JsonValueKind.Null, status.GetProperty("targetErrorId").ValueKind);

        // A sync still needs one, and says which.
        var (syncCode, syncOut, _) = await RunCliProcessAsync(environment, "sync", "--path", path, "--json");
        Assert.Equal(1, syncCode);
        Assert.Equal("DbSync.ConnectionMissing", Json(syncOut).GetProperty("errorId").GetString());
    }

    [Theory]
    [InlineData("log", "--status", "Succeeded,Cancelled")]
    [InlineData("log", "--status", "Succeeded, PartiallySucceeded")]
    [InlineData("log", "--status", "3")]
    [InlineData("log", "--status", " Failed")]
    [InlineData("sync", "--conflict-policy", "SourceWins,Fail")]
    [InlineData("sync", "--conflict-policy", "1")]
    public async Task An_enum_option_takes_exactly_one_name(string command, string option, string value)
    {
        // Enum.TryParse read "Succeeded,Cancelled" as the two ORed together: log listed Abandoned runs, and
        // "Succeeded,PartiallySucceeded" the Failed ones.
        var path = _fixture.CopyChinook();

        string[] connection = command == "sync" ? ["--connection", TestServer.ConnectionString] : [];
        var (code, stdout, stderr) = await RunCliAsync([command, "--path", path, .. connection, option, value, "--json"]);

        Assert.Equal(2, code);
        var json = Json(stdout);
        Assert.Equal("DbSync.UsageError", json.GetProperty("errorId").GetString());
        Assert.Contains(option, json.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains($"'{value}'", json.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains(option, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sync --what-if --interval 5", "--interval", "5")]
    [InlineData("log --since Dec_1_2020", "--since", "Dec 1 2020")]
    [InlineData("log --since 1/2/2020", "--since", "1/2/2020")]
    [InlineData("log --since 2020-13-01", "--since", "2020-13-01")]
    [InlineData("conflicts --since 12/01/2020", "--since", "12/01/2020")]
    public async Task A_value_an_option_does_not_take_is_a_usage_error_naming_it(string commandLine, string option, string value)
    {
        // `--what-if` returned before the --interval check, and --since went through DateTime.TryParse, which reads
        // "1/2/2020" as 2 January and takes "Dec 1 2020"; both were accepted with exit 0.
        var path = _fixture.CopyChinook();
        var words = commandLine.Split(' ').Select(w => w.Replace('_', ' ')).ToArray();

        string[] connection = words[0] == "log" ? [] : ["--connection", TestServer.ConnectionString];
        string[] file = words[0] == "conflicts" ? [] : ["--path", path];

        var (code, stdout, _) = await RunCliAsync([.. words, .. file, .. connection, "--json"]);

        Assert.Equal(2, code);
        var json = Json(stdout);
        Assert.Equal("DbSync.UsageError", json.GetProperty("errorId").GetString());
        Assert.Contains(option, json.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains(value, json.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Iso_8601_since_values_are_accepted()
    {
        var path = _fixture.CopyChinook();
        foreach (var since in new[] { "2020-12-01", "2020-12-01T09:30", "2020-12-01T09:30:00Z", "2020-12-01T10:30:00.5+01:00", "2020-12-01 09:30:00" })
        {
            var (code, stdout, stderr) = await RunCliAsync("log", "--path", path, "--since", since, "--json");
            Assert.True(code == 0, $"{since}: {stdout} {stderr}");
        }
    }

    public static TheoryData<string, string> BadSources => new()
    {
        { "missing", "DbSync.SourceNotFound" },
        { "directory", "DbSync.SourceNotAFile" },
        { "empty", "DbSync.SourceNotSqlite" },
        { "text", "DbSync.SourceNotSqlite" },
        { "truncated", "DbSync.SourceCorrupt" },
    };

    [Theory]
    [MemberData(nameof(BadSources))]
    public async Task A_bad_source_file_fails_with_its_error_id_and_changes_nothing(string kind, string errorId)
    {
        var path = Path.Combine(_fixture.Directory, kind + ".sqlite");
        switch (kind)
        {
            case "directory":
                Directory.CreateDirectory(path);
                break;
            case "empty":
                File.WriteAllBytes(path, []);
                break;
            case "text":
                File.WriteAllText(path, "name,value\nthis is a CSV file, not a database\n");
                break;
            case "truncated":
                var bytes = File.ReadAllBytes(SyncFixture.ChinookSource);
                File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);
                break;
        }

        var before = File.Exists(path) ? SyncFixture.Hash(path) : null;

        var (code, stdout, stderr) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--json");

        Assert.Equal(1, code);
        var json = Json(stdout);
        Assert.Equal("Failed", json.GetProperty("status").GetString());
        Assert.Equal(errorId, json.GetProperty("errorId").GetString());
        Assert.Contains(errorId, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(before, File.Exists(path) ? SyncFixture.Hash(path) : null);
        Assert.False(kind == "missing" && File.Exists(path), "a missing database must never be created");
        Assert.False(_fixture.SchemaExists());
    }

    public static TheoryData<string, string> BadTargets => new()
    {
        { "unknown-key", "DbSync.InvalidConnectionString" },
        { "unparsable", "DbSync.InvalidConnectionString" },
        { "wrong-password", "DbSync.AuthenticationFailed" },
        { "refused", "DbSync.TargetUnreachable" },
        { "silent", "DbSync.TargetUnreachable" },
        { "empty", "DbSync.ConnectionMissing" },
    };

    [Theory]
    [MemberData(nameof(BadTargets))]
    public async Task A_bad_target_fails_with_its_error_id_changes_nothing_and_leaks_no_password(string kind, string errorId)
    {
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(); // accepts connections (the OS does) and never answers
        var builder = new NpgsqlConnectionStringBuilder(TestServer.ConnectionString);
        var connection = kind switch
        {
            "unknown-key" => TestServer.ConnectionString + ";Flavour=strawberry",
            "unparsable" => "Host=localhost;Port=notaport;Password=" + TestServer.Password,
            "wrong-password" => new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Password = "wrong-" + TestServer.Password }.ConnectionString,
            "refused" => new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Port = FreePort() }.ConnectionString,
            "silent" => new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Port = ((IPEndPoint)silent.LocalEndpoint).Port, Timeout = 2 }.ConnectionString,
            _ => "",
        };

        var (code, stdout, stderr) = await RunCliAsync("sync", "--path", path, "--connection", connection, "--schema", _fixture.Schema, "--json");

        Assert.Equal(1, code);
        Assert.Equal(errorId, Json(stdout).GetProperty("errorId").GetString());
        Assert.Equal(before, SyncFixture.Hash(path));
        Assert.False(_fixture.SchemaExists());
        Assert.DoesNotContain(TestServer.Password, stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-", stdout + stderr, StringComparison.Ordinal);
        _ = builder;
    }

    [Fact]
    public async Task A_connection_string_given_where_another_value_belongs_is_never_echoed_with_its_password()
    {
        // A forgotten --connection (`dbsync sync --path f "$CS"`), a slip of --table or --since: the usage error, the
        // TableNotFound message and, through the failed attempt's backup line, restore-log and the next sync, the file's
        // run log and dbsync.runs held the password (ops exploration, F5).
        var path = _fixture.CopyChinook();
        var cs = TestServer.ConnectionString;
        var password = TestServer.Password;
        var outputs = new List<(string Stdout, string Stderr)>();
        async Task<JsonElement> Failure(int expectedCode, params string[] args)
        {
            var (code, stdout, stderr) = await RunCliAsync(args);
            Assert.Equal(expectedCode, code);
            outputs.Add((stdout, stderr));
            return Json(stdout);
        }

        var stray = await Failure(2, "sync", "--path", path, cs, "--json");
        // Redacted where it is quoted, so the rest of the message survives.
        Assert.Matches(@"Password=\*\*\*[^']*' for 'sync'\. Options: --path", stray.GetProperty("message").GetString());
        await Failure(2, "conflicts", "--connection", cs, "--node", cs, "--json");
        await Failure(2, "log", "--path", path, "--since", cs, "--json");
        await Failure(2, "sync", "--path", path, "--connection", cs, "--batch-size", cs, "--json");
        await Failure(2, "sync", "--path", path, "--connection", cs, "--json=" + cs);
        await Failure(2, "sync", "--path", path, "--connection", cs, "--conflict-policy", cs, "--json");
        await Failure(2, cs, "--json");
        // A short one fits a schema name: it was created, password and all, and named in every table's target.
        var schemaError = await Failure(2, "sync", "--path", path, "--connection", cs, "--schema", "Host=x;Password=" + password, "--json");
        Assert.Contains("Password=***", schemaError.GetProperty("message").GetString(), StringComparison.Ordinal);
        var missing = await Failure(1, "sync", "--path", path, "--connection", cs, "--schema", _fixture.Schema, "--table", cs, "--json");
        Assert.Equal("DbSync.TableNotFound", missing.GetProperty("errorId").GetString());
        Assert.Matches(@"Password=\*\*\*[^']*'\. Tables: ", missing.GetProperty("message").GetString());
        await Failure(1, "sync", "--path", path, "--connection", cs, "--schema", _fixture.Schema, "--node-partitioned", cs, "--json");
        foreach (var (stdout, stderr) in outputs)
        {
            Assert.DoesNotContain(password, stdout + stderr, StringComparison.Ordinal);
        }

        var backup = RunLog.BackupPathFor(path, null)!;
        Assert.Contains("Password=***", File.ReadAllText(backup), StringComparison.Ordinal);
        Assert.DoesNotContain(password, File.ReadAllText(backup), StringComparison.Ordinal);

        // The failed attempts, restored into the file and sent to dbsync.runs by the next sync.
        Assert.Equal(0, (await RunCliAsync("restore-log", "--path", path, "--json")).Code);
        Assert.Equal(0, (await RunCliAsync("sync", "--path", path, "--connection", cs, "--schema", _fixture.Schema, "--json")).Code);
        Assert.True(_fixture.PgScalar($"SELECT count(*) FROM dbsync.runs WHERE path = '{RunLock.TryRealPath(path).Replace("'", "''", StringComparison.Ordinal)}' AND message LIKE '%Password=***%'") >= 2);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM dbsync.runs r WHERE strpos(r::text, '{password.Replace("'", "''", StringComparison.Ordinal)}') > 0"));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM pg_namespace WHERE strpos(nspname, '{password.Replace("'", "''", StringComparison.Ordinal)}') > 0"));
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var command = sqlite.CreateCommand();
        command.CommandText = "SELECT count(*) FROM _dbsync_runs WHERE instr(message, $p) > 0 OR instr(tables, $p) > 0";
        command.Parameters.AddWithValue("$p", password);
        Assert.Equal(0L, (long)command.ExecuteScalar()!);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("sync --path")]
    [InlineData("sync --connection Host=x")]
    [InlineData("sync --path x --bogus")]
    [InlineData("sync --path x --batch-size many")]
    [InlineData("sync --path x --connection Host=x --batch-size 0")]
    [InlineData("status --path x --json=false")]
    [InlineData("status --path x --detailed=yes")]
    [InlineData("sync --path x --connection Host=x --what-if --watch")]
    [InlineData("sync --path= --connection Host=x")]
    [InlineData("status --path=")]
    public async Task Usage_errors_exit_2_with_the_usage_error_id(string commandLine)
    {
        var (code, stdout, stderr) = await RunCliAsync([.. commandLine.Split(' '), "--json"]);

        Assert.Equal(2, code);
        Assert.Contains("DbSync.UsageError", stderr, StringComparison.Ordinal);
        // Nothing ran, so there is no run to name.
        Assert.Equal("DbSync.UsageError", Json(stdout).GetProperty("errorId").GetString());
        Assert.False(Json(stdout).TryGetProperty("runId", out _), stdout);
    }

    [Fact]
    public async Task A_table_pattern_that_matches_nothing_is_an_error_naming_it()
    {
        var path = _fixture.CopyChinook();
        var before = SyncFixture.Hash(path);

        var (code, stdout, _) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--table", "Nope*", "--json");

        Assert.Equal(1, code);
        var json = Json(stdout);
        Assert.Equal("DbSync.TableNotFound", json.GetProperty("errorId").GetString());
        Assert.Contains("Nope*", json.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, SyncFixture.Hash(path));
    }

    [Theory]
    [InlineData("same path")]
    // Runs that reach one file by two paths take one lock: two runs at once could each mark synced what the other
    // pushed, and with it changes written meanwhile.
    [InlineData("link to the file")]
    [InlineData("link to its folder")]
    public async Task A_second_run_waits_for_the_lock_then_exits_4(string how)
    {
        var path = _fixture.CopyChinook();
        if (how == "link to its folder")
        {
            var folder = Directory.CreateDirectory(Path.Combine(_fixture.Directory, "real")).FullName;
            File.Move(path, path = Path.Combine(folder, "chinook.sqlite"));
        }

        var other = how switch
        {
            "link to the file" => File.CreateSymbolicLink(Path.Combine(_fixture.Directory, "alias.sqlite"), path).FullName,
            "link to its folder" => Path.Combine(Directory.CreateSymbolicLink(Path.Combine(_fixture.Directory, "alias"), Path.GetDirectoryName(path)!).FullName, "chinook.sqlite"),
            _ => path,
        };
        using (await DbSync.Core.Bookkeeping.RunLock.AcquireAsync(path, TimeSpan.Zero, CancellationToken.None))
        {
            var started = DateTime.UtcNow;
            var (code, stdout, _) = await RunCliAsync("sync", "--path", other, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema,
                "--lock-timeout", "1", "--json");

            Assert.Equal(4, code);
            Assert.Equal("DbSync.LockTimeout", Json(stdout).GetProperty("errorId").GetString());
            Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(0.9));
        }

        // Released: the next run goes through.
        var (after, _, _) = await RunCliAsync("sync", "--path", path, "--connection", TestServer.ConnectionString, "--schema", _fixture.Schema, "--table", "Genre", "--lock-timeout", "0");
        Assert.Equal(0, after);
    }

    [Fact]
    public async Task Enable_is_idempotent_and_disable_refuses_pending_changes_unless_forced()
    {
        var path = _fixture.CopyChinook();
        var (first, out1, _) = await RunCliAsync("enable", "--path", path, "--json");
        var (second, out2, _) = await RunCliAsync("enable", "--path", path, "--json");
        Assert.Equal((0, 0), (first, second));
        Assert.Equal(Json(out1).GetProperty("nodeId").GetString(), Json(out2).GetProperty("nodeId").GetString());
        Assert.Equal(11, Json(out2).GetProperty("tables").GetArrayLength());
        Assert.Equal(33, Objects(path, "trigger").Count);

        SyncFixture.Execute(path, "UPDATE Artist SET Name = 'x' WHERE ArtistId = 1");
        var (refused, out3, _) = await RunCliAsync("disable", "--path", path, "--json");
        Assert.Equal(1, refused);
        Assert.Equal("DbSync.PendingChanges", Json(out3).GetProperty("errorId").GetString());
        Assert.Equal(33, Objects(path, "trigger").Count);

        var (forced, out4, _) = await RunCliAsync("disable", "--path", path, "--force", "--json");
        Assert.Equal(0, forced);
        Assert.Equal(1, Json(out4).GetProperty("discardedChanges").GetInt64());
        Assert.Empty(Objects(path, "trigger"));
        // History and node id stay without --purge; the user's data is untouched.
        Assert.Contains("_dbsync_runs", Objects(path, "table"));
        Assert.Equal(275, TableComparer.Count(path, "Artist"));

        var (purged, _, _) = await RunCliAsync("disable", "--path", path, "--purge");
        Assert.Equal(0, purged);
        Assert.DoesNotContain(Objects(path, "table"), n => n.StartsWith("_dbsync_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Demo_runs_end_to_end_against_the_given_server()
    {
        var (code, stdout, stderr) = await RunCliAsync("demo", "--connection", TestServer.ConnectionString);

        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("Second sync pushes only what changed", stdout, StringComparison.Ordinal);
        Assert.Contains("orders 503", stdout, StringComparison.Ordinal);
        Assert.Contains("no primary key", stderr + stdout, StringComparison.Ordinal);
        foreach (var schema in stdout.Split('\'').Where(s => s.StartsWith("dbsync_demo_", StringComparison.Ordinal)).Distinct())
        {
            _fixture.PgExecute($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        }
    }

    internal static List<string> Objects(string path, string type)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var command = sqlite.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = $t AND name LIKE '\\_dbsync\\_%' ESCAPE '\\'";
        command.Parameters.AddWithValue("$t", type);
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
