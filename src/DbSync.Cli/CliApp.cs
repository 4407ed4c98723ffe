using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using DbSync.Core;
using DbSync.Core.Bookkeeping;

namespace DbSync.Cli;

/// <summary>The dbsync command line: parses options into Core requests and prints results. The contract is docs/cli.md.</summary>
public static class CliApp
{
    /// <summary>Exit codes (docs/cli.md).</summary>
    public const int Success = 0, Failed = 1, Usage = 2, Partial = 3, Locked = 4, Cancelled = 130;

    /// <summary>Options that may be given more than once; their values add up.</summary>
    private static readonly HashSet<string> _repeatable = new(StringComparer.Ordinal) { "--table", "--node-partitioned" };

    /// <summary>
    /// quarantine options that only a retry (a sync) uses. --connection is not among them: scripts pass it to every
    /// command, as they may set DBSYNC_CONNECTION, and listing simply does not need it.
    /// </summary>
    private static readonly string[] _retryOptions =
        ["--schema", "--batch-size", "--lock-timeout", "--busy-timeout", "--log-path", "--conflict-policy", "--newest-column", "--node-partitioned", "--preserve-case"];

    /// <summary>JSON as scripts read it: one line, quotes and non-ASCII text unescaped.</summary>
    internal static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly Dictionary<string, CommandSpec> _commands = new(StringComparer.Ordinal)
    {
        ["sync"] = new("Push pending changes (enabling capture on first use).",
            ["--path", "--connection", "--schema", "--table", "--batch-size", "--lock-timeout", "--busy-timeout", "--log-path", "--keep-days", "--interval",
                "--conflict-policy", "--newest-column", "--node-partitioned"],
            ["--resync", "--preserve-case", "--prune-backup", "--what-if", "--watch", "--json"]),
        ["enable"] = new("Install change capture in the SQLite file without syncing.", ["--path", "--table", "--lock-timeout", "--busy-timeout"], ["--what-if", "--json"]),
        ["disable"] = new("Remove change capture from the SQLite file.", ["--path", "--table", "--lock-timeout", "--busy-timeout"], ["--force", "--purge", "--json"]),
        ["status"] = new("Show capture, pending changes, lag, last run and whether the target answers.", ["--path", "--connection", "--target-timeout"], ["--detailed", "--json"]),
        ["test"] = new("Run every preflight check of source and target.", ["--path", "--connection", "--schema", "--table", "--target-timeout"], ["--preserve-case", "--json"]),
        ["log"] = new("Show the run log, newest first.", ["--path", "--last", "--since", "--status"], ["--json"]),
        ["restore-log"] = new("Restore run log entries from the JSON-lines backup.", ["--path", "--backup"], ["--what-if", "--json"]),
        ["conflicts"] = new("Show the conflicts recorded in PostgreSQL, newest first.",
            ["--connection", "--path", "--node", "--table", "--run", "--since", "--last"], ["--json"]),
        ["quarantine"] = new("List the rows held back in the file; with --retry, try them again first.",
            ["--path", "--table", "--connection", "--schema", "--batch-size", "--lock-timeout", "--busy-timeout", "--log-path",
                "--conflict-policy", "--newest-column", "--node-partitioned"],
            ["--retry", "--preserve-case", "--json"]),
        ["reset-node"] = new("Give a copied SQLite file a node id of its own.", ["--path", "--connection", "--lock-timeout", "--busy-timeout"], ["--json"]),
        ["demo"] = new("Build a sample database, sync it, change it, sync again.", ["--connection"], ["--json"]),
    };

    /// <summary>Runs the program; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        // `--json=false` is a usage error (a switch takes no value), but a wrapper that always parses stdout still needs
        // the error object: it got nothing.
        var json = args.Any(a => a == "--json" || a.StartsWith("--json=", StringComparison.Ordinal));
        if (args.Length == 0)
        {
            // As every usage error: the message line on stderr, and stdout left for what a command prints.
            stderr.WriteLine($"dbsync: {ErrorIds.UsageError}: No command given.");
            stderr.WriteLine(Help());
            return Usage;
        }

        if (args[0] is "-h" or "--help" or "help")
        {
            // `help COMMAND` is one command's options; anything else after it was ignored and the general help printed
            // with exit 0, an unknown command included.
            if (args.Length > 1 && (args[0] != "help" || args.Length > 2 || args[1].StartsWith('-')))
            {
                return Fail(UsageError($"{args[0]} takes {(args[0] == "help" ? "one command name" : "nothing")} (got '{Secrets.Redact(string.Join(" ", args.Skip(1)))}'); " +
                    "for one command's options: dbsync help COMMAND or dbsync COMMAND --help."), json, stdout, stderr);
            }

            if (args.Length == 2 && !_commands.ContainsKey(args[1]) && args[1] != "version")
            {
                return Fail(UsageError($"Unknown command '{Secrets.Redact(args[1])}'. Commands: {string.Join(", ", _commands.Keys)}."), json, stdout, stderr);
            }

            stdout.WriteLine(args.Length == 2 ? CommandHelp(args[1]) : Help());
            return Success;
        }

        // One command's options: `dbsync sync --help`. It was a usage error, and only the list of every command existed.
        // A --help that is an option's value (--table --help) is a value.
        if (CommandAskingHelp(args) is { } asked)
        {
            if (json)
            {
                // Help is text; --json promises exactly one JSON object on stdout.
                return Fail(UsageError($"--help prints text, not JSON: dbsync {asked} --help, without --json."), json, stdout, stderr);
            }

            stdout.WriteLine(CommandHelp(asked));
            return Success;
        }

        if (args[0] is "version" && args.Skip(1).Any(a => a is "--help" or "-h") && !json)
        {
            // cli.md lists `dbsync version` among the commands, so it answers --help as they do.
            stdout.WriteLine(CommandHelp("version"));
            return Success;
        }

        if (args[0] is "--version" or "version")
        {
            // `--version --json` is one object for scripts; anything else after it is a mistake, not ignored.
            if (args.Skip(1).FirstOrDefault(a => a != "--json") is { } extra)
            {
                return Fail(UsageError($"{args[0]} takes no option but --json; got '{Secrets.Redact(extra)}'."), json, stdout, stderr);
            }

            stdout.WriteLine(args.Length > 1 ? new JsonObject { ["version"] = SyncEngine.Version }.ToJsonString(JsonOptions) : $"dbsync {SyncEngine.Version}");
            return Success;
        }

        ParsedArgs parsed;
        try
        {
            parsed = Parse(args);
        }
        catch (DbSyncException ex)
        {
            return Fail(ex, json, stdout, stderr);
        }

        using var cancel = new CancellationTokenSource();
        // Cancelling runs the token's callbacks on the calling thread, among them Npgsql's cancel request, which through a
        // network gone silent never returns: off the signal thread, so that the work can still give up waiting and end.
        void Stop() => _ = Task.Run(() =>
        {
            try
            {
                cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The command had finished.
            }
        });
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            Stop();
        };
        Console.CancelKeyPress += onCancel;
        Action<PosixSignalContext> onSignal = context =>
        {
            context.Cancel = true;
            Stop();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, onSignal);
        // A terminal hang-up (or a unit's ExecReload=kill -HUP) killed the process at once (exit 129), leaving its run
        // to be found Abandoned: it stops as SIGTERM does.
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, onSignal);
        try
        {
            return parsed.Command switch
            {
                "sync" => await SyncAsync(parsed, stdout, stderr, cancel.Token).ConfigureAwait(false),
                "enable" => await EnableAsync(parsed, stdout, stderr, cancel.Token).ConfigureAwait(false),
                "disable" => await DisableAsync(parsed, stdout, stderr, cancel.Token).ConfigureAwait(false),
                "log" => await LogAsync(parsed, stdout, stderr, cancel.Token).ConfigureAwait(false),
                "status" => await StatusAsync(parsed, stdout, cancel.Token).ConfigureAwait(false),
                "test" => await TestAsync(parsed, stdout, cancel.Token).ConfigureAwait(false),
                "restore-log" => await RestoreLogAsync(parsed, stdout, stderr, cancel.Token).ConfigureAwait(false),
                "conflicts" => await ConflictsAsync(parsed, stdout, cancel.Token).ConfigureAwait(false),
                "quarantine" => await QuarantineAsync(parsed, stdout, stderr, cancel.Token).ConfigureAwait(false),
                "reset-node" => await ResetNodeAsync(parsed, stdout, cancel.Token).ConfigureAwait(false),
                "demo" => await Demo.RunAsync(Connection(parsed), json, stdout, stderr, cancel.Token).ConfigureAwait(false),
                _ => throw new InvalidOperationException(parsed.Command),
            };
        }
        catch (OperationCanceledException ex) when (cancel.IsCancellationRequested)
        {
            return Fail(ex is RunCancelledException run ? run.ToError()
                : new DbSyncException(ErrorIds.Cancelled, DbSyncErrorCategory.OperationStopped, CancelledMessage(parsed)), json, stdout, stderr);
        }
        catch (DbSyncException ex)
        {
            return Fail(ex, json, stdout, stderr);
        }
        catch (Exception ex)
        {
            // Last resort: a failure DbSync has no name for ended the process with .NET's stack trace (exit 134, stdout
            // empty), which no script can read. It still gets the documented failure object and exit 1.
            return Fail(new DbSyncException(ErrorIds.Unexpected, DbSyncErrorCategory.NotSpecified,
                $"DbSync failed in a way it has no name for ({ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}); please report it with the command line.", inner: ex),
                json, stdout, stderr);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>What a cancel left undone, per command: the commands that only read said a run's "nothing of it was applied".</summary>
    private static string CancelledMessage(ParsedArgs parsed) => parsed.Command switch
    {
        "log" or "status" or "test" or "conflicts" => $"{parsed.Command} was cancelled; it only reads, and nothing was changed.",
        "quarantine" when !parsed.Flag("--retry") => "quarantine was cancelled; listing only reads, and nothing was changed.",
        // Its writes are one transaction, committed last.
        "restore-log" => "restore-log was cancelled; nothing was restored.",
        _ => "The run was cancelled; nothing of it was applied.",
    };

    private static async Task<int> SyncAsync(ParsedArgs parsed, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var request = BuildSyncRequest(parsed);
        if (request.PruneBackup && request.KeepDays is null)
        {
            throw UsageError("--prune-backup needs --keep-days.");
        }

        if (parsed.Flag("--what-if") && parsed.Flag("--watch"))
        {
            throw UsageError("--what-if and --watch do not go together: --what-if plans one run and changes nothing.");
        }

        // Before the plan: --what-if returned before this check, so `--what-if --interval 5` was accepted.
        if (!parsed.Flag("--watch") && parsed.Value("--interval") is { } interval)
        {
            throw UsageError($"--interval goes with --watch (got --interval {Secrets.Redact(interval)} without it).");
        }

        if (parsed.Flag("--what-if"))
        {
            return await PlanAsync(request, parsed.Flag("--json"), stdout, stderr, cancellationToken).ConfigureAwait(false);
        }

        if (parsed.Flag("--watch"))
        {
            return await WatchAsync(request, TimeSpan.FromSeconds(parsed.Int("--interval", minimum: 1, maximum: 86_400) ?? 30), parsed.Flag("--json"), stdout, stderr, cancellationToken).ConfigureAwait(false);
        }

        var result = await new SyncEngine().SyncAsync(request, null, cancellationToken).ConfigureAwait(false);
        if (parsed.Flag("--json"))
        {
            stdout.WriteLine(ToJson(result).ToJsonString(JsonOptions));
            WriteNotes(result, stderr);
        }
        else
        {
            PrintResult(result, stdout, stderr);
        }

        return result.Status == SyncStatus.Succeeded ? Success : Partial;
    }

    /// <summary>The sync options as a request (sync, and quarantine --retry); options a command does not take read as their defaults.</summary>
    private static SyncRequest BuildSyncRequest(ParsedArgs parsed)
    {
        var policy = parsed.Enum<ConflictPolicy>("--conflict-policy") ?? ConflictPolicy.SourceWins;
        var newestColumn = parsed.Value("--newest-column");
        if (newestColumn is not null && string.IsNullOrWhiteSpace(newestColumn))
        {
            // Core refused it too, but as a run: with a runId, and an attempt recorded in the backup.
            throw UsageError("--newest-column needs a column name, not an empty string.");
        }

        if (policy == ConflictPolicy.Newest && newestColumn is null)
        {
            throw UsageError("--conflict-policy Newest needs --newest-column (the column that says which version is newer).");
        }

        if (policy != ConflictPolicy.Newest && newestColumn is not null)
        {
            throw UsageError("--newest-column goes with --conflict-policy Newest.");
        }

        return new SyncRequest
        {
            Path = parsed.Required("--path"),
            ConnectionString = Connection(parsed) ?? "",
            Schema = parsed.Value("--schema") ?? "public",
            Tables = parsed.Values("--table"),
            // At least 1, as Core and cli.md say: "0 or more" here and "at least 1" from Core contradicted each other.
            BatchSize = parsed.Int("--batch-size", minimum: 1) ?? 10_000,
            Resync = parsed.Flag("--resync"),
            PreserveCase = parsed.Flag("--preserve-case"),
            LockTimeout = TimeSpan.FromSeconds(parsed.Int("--lock-timeout") ?? 30),
            BusyTimeout = TimeSpan.FromSeconds(parsed.Int("--busy-timeout") ?? 30),
            LogPath = parsed.Value("--log-path"),
            KeepDays = parsed.Int("--keep-days"),
            PruneBackup = parsed.Flag("--prune-backup"),
            ConflictPolicy = policy,
            NewestColumn = newestColumn,
            NodePartitioned = parsed.Values("--node-partitioned"),
        };
    }

    private static async Task<int> WatchAsync(SyncRequest request, TimeSpan interval, bool json, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (interval <= TimeSpan.Zero)
        {
            throw UsageError("--interval must be at least 1 second.");
        }

        var gate = new object();
        var runs = new InlineProgress<DbSync.Core.Watching.WatchRun>(run =>
        {
            lock (gate)
            {
                if (run.Result is { } result)
                {
                    if (json)
                    {
                        stdout.WriteLine(ToJson(result).ToJsonString(JsonOptions));
                        WriteNotes(result, stderr);
                    }
                    else
                    {
                        PrintResult(result, stdout, stderr);
                    }
                }
                else if (run.Error is { ErrorId: ErrorIds.Cancelled } cancelled)
                {
                    // The run a stop cancelled still gets its line, as every run does.
                    if (json)
                    {
                        var line = new JsonObject { ["status"] = "Cancelled", ["errorId"] = cancelled.ErrorId, ["message"] = cancelled.Message };
                        if (cancelled.RunId is { } runId)
                        {
                            line["runId"] = runId.ToString();
                        }

                        stdout.WriteLine(line.ToJsonString(JsonOptions));
                    }

                    stderr.WriteLine($"dbsync: {cancelled.ErrorId}: {cancelled.Message}");
                }
                else if (run.Error is { } error)
                {
                    var retry = run.RetryIn?.TotalSeconds ?? 0;
                    if (json)
                    {
                        var line = new JsonObject { ["status"] = "Failed", ["errorId"] = error.ErrorId, ["message"] = error.Message };
                        // As in the one-shot failure object: runId only when the run had one (not for a failure of the
                        // watched file between runs), never null.
                        if (error.RunId is { } runId)
                        {
                            line["runId"] = runId.ToString();
                        }

                        AddCommitted(line, error);
                        line["retryInSeconds"] = retry;
                        stdout.WriteLine(line.ToJsonString(JsonOptions));
                    }

                    stderr.WriteLine($"dbsync: {error.ErrorId}: {error.Message} (retrying in {retry:0.#} s)");
                }

                stdout.Flush();
            }
        });
        if (!json)
        {
            stderr.WriteLine($"Watching {request.Path}: syncing on every commit and at least every {interval.TotalSeconds:0} s. Ctrl+C, SIGTERM or SIGHUP stops.");
        }

        await new SyncEngine().WatchAsync(request, new DbSync.Core.Watching.WatchOptions { Interval = interval, ReportCancelledRun = true }, runs, null, cancellationToken).ConfigureAwait(false);
        // Stopping is how continuous mode ends: a clean stop is a success.
        return Success;
    }

    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    private static async Task<int> PlanAsync(SyncRequest request, bool json, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var plan = await new SyncEngine().PlanAsync(request, cancellationToken).ConfigureAwait(false);
        if (json)
        {
            stdout.WriteLine(new JsonObject
            {
                ["status"] = "WhatIf",
                ["path"] = plan.Path,
                ["target"] = plan.Target,
                ["tables"] = new JsonArray(plan.Tables.Select(t => (JsonNode)new JsonObject
                {
                    ["order"] = t.Order, ["name"] = t.Name, ["target"] = t.Target, ["mode"] = t.Mode, ["createTarget"] = t.CreateTarget,
                    ["pendingInserts"] = t.PendingInserts, ["pendingUpdates"] = t.PendingUpdates, ["pendingDeletes"] = t.PendingDeletes,
                    ["rows"] = t.Rows, ["reason"] = t.Reason,
                }).ToArray()),
                ["warnings"] = new JsonArray(plan.Warnings.Select(w => (JsonNode)JsonValue.Create(w)!).ToArray()),
            }.ToJsonString(JsonOptions));
        }

        foreach (var warning in plan.Warnings)
        {
            stderr.WriteLine($"warning: {warning}");
        }

        if (json)
        {
            return Success;
        }

        stdout.WriteLine($"What if: sync {plan.Path} to {plan.Target} (nothing is changed):");
        foreach (var t in plan.Tables)
        {
            var what = t.Mode switch
            {
                "Push" => $"push {t.PendingInserts} insert(s), {t.PendingUpdates} update(s), {t.PendingDeletes} delete(s)",
                "Skipped" => $"skip: {t.Reason}",
                _ => $"{t.Mode}: copy {t.Rows} row(s){(t.CreateTarget ? ", creating the table" : "")}",
            };
            stdout.WriteLine($"  {t.Order,2}. {t.Name,-24} -> {t.Target,-32} {what}");
        }

        return Success;
    }

    private static async Task<int> StatusAsync(ParsedArgs parsed, TextWriter stdout, CancellationToken cancellationToken)
    {
        var status = await new SyncEngine().GetStatusAsync(new DbSync.Core.Diagnostics.StatusRequest
        {
            Path = parsed.Required("--path"),
            ConnectionString = Connection(parsed),
            Detailed = parsed.Flag("--detailed"),
            TargetTimeout = TimeSpan.FromSeconds(parsed.Int("--target-timeout", minimum: 1, maximum: (int)SyncEngine.MaxTargetTimeout.TotalSeconds) ?? 3),
        }, cancellationToken).ConfigureAwait(false);
        if (parsed.Flag("--json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["status"] = "Succeeded",
                ["path"] = status.Path,
                ["nodeId"] = status.NodeId,
                ["captureEnabled"] = status.CaptureEnabled,
                ["triggersIntact"] = status.TriggersIntact,
                ["pendingChanges"] = status.PendingChanges,
                ["lagSeconds"] = status.Lag is { } lag ? Math.Round(lag.TotalSeconds, 1) : null,
                ["quarantined"] = status.Quarantined,
                ["lastRun"] = status.LastRun is null ? null : JsonNode.Parse(status.LastRun.ToJson()),
                ["targetReachable"] = status.TargetReachable,
                ["targetError"] = status.TargetError,
                ["targetErrorId"] = status.TargetErrorId,
                ["vanishedTables"] = new JsonArray(status.VanishedTables.Select(v => (JsonNode)new JsonObject { ["name"] = v.Name, ["loggedChanges"] = v.LoggedChanges }).ToArray()),
                ["tables"] = new JsonArray(status.Tables.Select(t => (JsonNode)new JsonObject
                {
                    ["name"] = t.Name, ["captured"] = t.Captured, ["triggersIntact"] = t.TriggersIntact, ["pendingChanges"] = t.PendingChanges,
                    ["quarantined"] = t.Quarantined,
                    ["lagSeconds"] = t.Lag is { } l ? Math.Round(l.TotalSeconds, 1) : null, ["loaded"] = t.Loaded, ["reason"] = t.Reason,
                }).ToArray()),
            }.ToJsonString(JsonOptions));
            return Success;
        }

        stdout.WriteLine($"{status.Path}: node {status.NodeId ?? "-"}, capture {(status.CaptureEnabled ? status.TriggersIntact ? "enabled" : "enabled, TRIGGERS DAMAGED" : "not enabled")}");
        stdout.WriteLine($"  pending {status.PendingChanges} row(s){(status.Lag is { } age ? $", oldest {age.TotalSeconds:0} s old" : "")}{(status.Quarantined > 0 ? $", {status.Quarantined} held back (dbsync quarantine)" : "")}");
        stdout.WriteLine(status.LastRun is { } run
            ? $"  last run {run.StartedAt:yyyy-MM-dd HH:mm:ss}Z {run.Status} +{run.Inserted} ~{run.Updated} -{run.Deleted}{(run.ErrorId is null ? "" : $" {run.ErrorId}")}"
            : "  no run yet");
        foreach (var gone in status.VanishedTables)
        {
            // Every sync warns of these; status said "pending 0" beside that warning (capture exploration 2, F4).
            stdout.WriteLine($"  captured table '{gone.Name}' no longer exists in SQLite{(gone.LoggedChanges > 0 ? $": {gone.LoggedChanges} logged change(s) never sent" : "")} (dbsync disable --table removes its capture)");
        }

        if (status.TargetReachable is { } reachable)
        {
            stdout.WriteLine(reachable ? "  target reachable" : $"  target NOT reachable: {status.TargetErrorId}: {status.TargetError}");
        }

        foreach (var t in status.Tables)
        {
            stdout.WriteLine($"  {t.Name,-24} {(t.Captured ? "captured" : "-"),-9} pending {t.PendingChanges,8} {(t.Loaded ? "loaded" : "")} {t.Reason}");
        }

        return Success;
    }

    private static async Task<int> TestAsync(ParsedArgs parsed, TextWriter stdout, CancellationToken cancellationToken)
    {
        var checks = await new SyncEngine().TestAsync(new DbSync.Core.Diagnostics.ConnectionTestRequest
        {
            Path = parsed.Required("--path"),
            ConnectionString = Connection(parsed),
            Schema = parsed.Value("--schema") ?? "public",
            Tables = parsed.Values("--table"),
            PreserveCase = parsed.Flag("--preserve-case"),
            TargetTimeout = TimeSpan.FromSeconds(parsed.Int("--target-timeout", minimum: 1, maximum: (int)SyncEngine.MaxTargetTimeout.TotalSeconds) ?? 5),
        }, cancellationToken).ConfigureAwait(false);
        var failed = checks.Any(c => c.Status == DbSync.Core.Diagnostics.CheckStatus.Fail);
        if (parsed.Flag("--json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["status"] = failed ? "Failed" : "Succeeded",
                ["checks"] = new JsonArray(checks.Select(c => (JsonNode)new JsonObject
                {
                    ["name"] = c.Name, ["status"] = c.Status.ToString(), ["message"] = c.Message, ["fix"] = c.Fix, ["target"] = c.Target, ["errorId"] = c.ErrorId,
                }).ToArray()),
            }.ToJsonString(JsonOptions));
        }
        else
        {
            foreach (var c in checks)
            {
                stdout.WriteLine($"{c.Status,-8} {c.Name,-26} {c.Message}{(c.Fix is null ? "" : $"{Environment.NewLine}{"",35}fix: {c.Fix}")}");
            }
        }

        return failed ? Failed : Success;
    }

    private static async Task<int> LogAsync(ParsedArgs parsed, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var since = parsed.Time("--since");
        // One name, as --conflict-policy takes it: Enum.TryParse also took "Succeeded,Cancelled" and ORed the two into
        // another status, which found the wrong runs.
        var status = parsed.Enum<RunStatus>("--status");
        var warnings = new List<string>();
        var entries = await new SyncEngine().GetLogAsync(new LogQuery
        {
            Path = parsed.Required("--path"), Last = parsed.Int("--last", minimum: 1), Since = since, Status = status,
        }, warnings, cancellationToken).ConfigureAwait(false);
        foreach (var warning in warnings)
        {
            stderr.WriteLine($"warning: {warning}");
        }

        if (parsed.Flag("--json"))
        {
            var runs = new JsonArray(entries.Select(e => JsonNode.Parse(e.ToJson())).ToArray());
            stdout.WriteLine(new JsonObject { ["status"] = "Succeeded", ["runs"] = runs }.ToJsonString(JsonOptions));
            return Success;
        }

        stdout.WriteLine($"{"Started (UTC)",-20} {"Status",-18} {"Inserted",9} {"Updated",9} {"Deleted",9} {"ms",8}  Run / error");
        foreach (var e in entries)
        {
            stdout.WriteLine($"{e.StartedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),-20} {e.Status,-18} {e.Inserted,9} {e.Updated,9} {e.Deleted,9} {e.DurationMs,8}  {e.RunId}{(e.ErrorId is null ? "" : $" {e.ErrorId}: {e.Message}")}");
        }

        return Success;
    }

    private static async Task<int> RestoreLogAsync(ParsedArgs parsed, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var result = await new SyncEngine().RestoreLogAsync(new RestoreLogRequest
        {
            Path = parsed.Required("--path"), BackupPath = parsed.Value("--backup"), WhatIf = parsed.Flag("--what-if"),
        }, cancellationToken).ConfigureAwait(false);
        if (parsed.Flag("--json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["status"] = "Succeeded",
                ["backupPath"] = result.BackupPath,
                ["whatIf"] = result.WhatIf,
                ["restored"] = result.Restored.Count,
                ["skipped"] = result.Skipped,
                ["invalid"] = result.Invalid.Count,
                ["restoredRunIds"] = new JsonArray(result.Restored.Select(e => (JsonNode)JsonValue.Create(e.RunId.ToString())!).ToArray()),
                ["invalidLines"] = new JsonArray(result.Invalid.Select(i => (JsonNode)new JsonObject { ["line"] = i.Line, ["reason"] = i.Reason }).ToArray()),
            }.ToJsonString(JsonOptions));
        }
        else
        {
            stdout.WriteLine($"{(result.WhatIf ? "Would restore" : "Restored")} {result.Restored.Count}, skipped {result.Skipped}, invalid {result.Invalid.Count} (from {result.BackupPath}).");
        }

        foreach (var line in result.Invalid)
        {
            stderr.WriteLine($"line {line.Line}: {line.Reason}");
        }

        return Success;
    }

    private static async Task<int> ConflictsAsync(ParsedArgs parsed, TextWriter stdout, CancellationToken cancellationToken)
    {
        var path = parsed.Value("--path");
        var node = parsed.Value("--node");
        if (path is not null && node is not null)
        {
            throw UsageError("Give --path or --node, not both: --path reads the node id from the file.");
        }

        Guid? runId = null;
        if (parsed.Value("--run") is { } runText)
        {
            runId = Guid.TryParse(runText, out var run) ? run : throw UsageError($"--run needs a run id (a GUID), not '{Secrets.Redact(runText)}'.");
        }

        var conflicts = await new SyncEngine().GetConflictsAsync(new ConflictQuery
        {
            ConnectionString = Connection(parsed) ?? "",
            Path = path,
            NodeId = node,
            Tables = parsed.Values("--table"),
            RunId = runId,
            Since = parsed.Time("--since"),
            Last = parsed.Int("--last", minimum: 1) ?? 100,
        }, cancellationToken).ConfigureAwait(false);
        if (parsed.Flag("--json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["status"] = "Succeeded",
                ["conflicts"] = new JsonArray(conflicts.Select(c => (JsonNode)new JsonObject
                {
                    ["id"] = c.Id,
                    ["runId"] = c.RunId.ToString(),
                    ["nodeId"] = c.NodeId,
                    ["at"] = c.At.ToString("O", CultureInfo.InvariantCulture),
                    ["table"] = c.Table,
                    ["target"] = c.Target,
                    ["key"] = JsonNode.Parse(c.Key),
                    ["kind"] = c.Kind.ToString(),
                    ["policy"] = c.Policy.ToString(),
                    ["winner"] = c.Winner,
                    ["sourceRow"] = c.SourceRow is null ? null : JsonNode.Parse(c.SourceRow),
                    ["targetRow"] = c.TargetRow is null ? null : JsonNode.Parse(c.TargetRow),
                }).ToArray()),
            }.ToJsonString(JsonOptions));
            return Success;
        }

        stdout.WriteLine($"{"At (UTC)",-20} {"Table",-24} {"Kind",-15} {"Policy",-10} {"Winner",-6} {"Node",-36} Key");
        foreach (var c in conflicts)
        {
            stdout.WriteLine($"{c.At.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),-20} {c.Table,-24} {c.Kind,-15} {c.Policy,-10} {c.Winner,-6} {c.NodeId,-36} {c.Key}");
        }

        return Success;
    }

    private static async Task<int> QuarantineAsync(ParsedArgs parsed, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var retry = parsed.Flag("--retry");
        if (!retry && _retryOptions.FirstOrDefault(o => parsed.Value(o) is not null || parsed.Flag(o)) is { } retryOnly)
        {
            throw UsageError($"{retryOnly} goes with --retry.");
        }

        var path = parsed.Required("--path");
        var engine = new SyncEngine();
        SyncResult? retried = null;
        if (retry)
        {
            retried = await engine.RetryQuarantineAsync(BuildSyncRequest(parsed), null, cancellationToken).ConfigureAwait(false);
        }

        var rows = await engine.GetQuarantineAsync(new QuarantineQuery
        {
            Path = path, Tables = parsed.Values("--table"), BusyTimeout = TimeSpan.FromSeconds(parsed.Int("--busy-timeout") ?? 30),
        }, cancellationToken).ConfigureAwait(false);
        var code = retried is null || retried.Status == SyncStatus.Succeeded ? Success : Partial;
        if (parsed.Flag("--json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["status"] = retried?.Status.ToString() ?? "Succeeded",
                ["path"] = retried?.Path ?? System.IO.Path.GetFullPath(path),
                ["retried"] = retried is null ? null : ToJson(retried),
                ["rows"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                {
                    ["table"] = r.Table,
                    ["key"] = r.Key,
                    ["kind"] = r.Kind.ToString(),
                    ["reason"] = r.Reason,
                    ["firstAt"] = r.FirstAt.ToString("O", CultureInfo.InvariantCulture),
                    ["lastAt"] = r.LastAt.ToString("O", CultureInfo.InvariantCulture),
                    ["attempts"] = r.Attempts,
                }).ToArray()),
            }.ToJsonString(JsonOptions));
            if (retried is not null)
            {
                WriteNotes(retried, stderr);
            }

            return code;
        }

        if (retried is not null)
        {
            PrintResult(retried, stdout, stderr);
        }
        else if (retry)
        {
            stdout.WriteLine("No row is held: nothing to retry.");
        }

        if (rows.Count == 0)
        {
            stdout.WriteLine(parsed.Values("--table").Count > 0
                ? $"No row is held in {path} in the tables matching {string.Join(", ", parsed.Values("--table"))}."
                : $"No row is held in {path}.");
            return code;
        }

        stdout.WriteLine($"{rows.Count} row(s) held in {path}; they stay pending and every sync tries them again:");
        stdout.WriteLine($"{"Table",-24} {"Kind",-11} {"Attempts",8}  {"First held (UTC)",-19}  {"Last tried (UTC)",-19}  Key: reason");
        foreach (var r in rows)
        {
            stdout.WriteLine($"{r.Table,-24} {r.Kind,-11} {r.Attempts,8}  {r.FirstAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),-19}  {r.LastAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),-19}  {r.Key}: {r.Reason}");
        }

        return code;
    }

    private static async Task<int> ResetNodeAsync(ParsedArgs parsed, TextWriter stdout, CancellationToken cancellationToken)
    {
        var result = await new SyncEngine().ResetNodeAsync(new ResetNodeRequest
        {
            Path = parsed.Required("--path"),
            ConnectionString = Connection(parsed),
            LockTimeout = TimeSpan.FromSeconds(parsed.Int("--lock-timeout") ?? 30),
            BusyTimeout = TimeSpan.FromSeconds(parsed.Int("--busy-timeout") ?? 30),
        }, cancellationToken).ConfigureAwait(false);
        if (parsed.Flag("--json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["status"] = "Succeeded",
                ["path"] = result.Path,
                ["previousNodeId"] = result.PreviousNodeId,
                ["nodeId"] = result.NodeId,
                ["released"] = result.Released,
                ["tables"] = new JsonArray(result.Tables.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
            }.ToJsonString(JsonOptions));
            return Success;
        }

        stdout.WriteLine($"{result.Path}: node {result.PreviousNodeId ?? "-"} -> {result.NodeId}.");
        if (result.Released)
        {
            stdout.WriteLine($"  {result.PreviousNodeId} was released in PostgreSQL: the file it was copied from syncs under it again.");
        }

        stdout.WriteLine($"  {result.Tables.Count} table(s) will be copied in full on the next sync{(result.Tables.Count > 0 ? ": " + string.Join(", ", result.Tables) : "")}.");
        return Success;
    }

    /// <summary>
    /// The connection string every command uses: --connection, else DBSYNC_CONNECTION, else null. An empty or blank
    /// variable counts as unset: containers and systemd's <c>Environment=DBSYNC_CONNECTION=</c> produce one, and it made
    /// <c>test</c> fail and <c>status</c> report the target unreachable instead of not checking it. So does an empty or
    /// blank <c>--connection</c>: wrappers pass <c>--connection "$OVERRIDE"</c> with the override unset, and the empty
    /// value hid the variable, failing with a message that said neither was given.
    /// </summary>
    private static string? Connection(ParsedArgs parsed) =>
        (parsed.Value("--connection") is { } given && !string.IsNullOrWhiteSpace(given) ? given : null)
        ?? (Environment.GetEnvironmentVariable("DBSYNC_CONNECTION") is { } fromEnvironment && !string.IsNullOrWhiteSpace(fromEnvironment) ? fromEnvironment : null);

    private static async Task<int> EnableAsync(ParsedArgs parsed, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var request = new EnableRequest
        {
            Path = parsed.Required("--path"),
            Tables = parsed.Values("--table"),
            LockTimeout = TimeSpan.FromSeconds(parsed.Int("--lock-timeout") ?? 30),
            BusyTimeout = TimeSpan.FromSeconds(parsed.Int("--busy-timeout") ?? 30),
        };
        var whatIf = parsed.Flag("--what-if");
        var result = whatIf
            ? await new SyncEngine().PlanEnableAsync(request, cancellationToken).ConfigureAwait(false)
            : await new SyncEngine().EnableAsync(request, cancellationToken).ConfigureAwait(false);
        PrintCapture(result, whatIf ? "would be enabled" : "enabled", parsed.Flag("--json"), stdout, stderr, whatIf);
        return Success;
    }

    private static async Task<int> DisableAsync(ParsedArgs parsed, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var result = await new SyncEngine().DisableAsync(new DisableRequest
        {
            Path = parsed.Required("--path"),
            Force = parsed.Flag("--force"),
            Purge = parsed.Flag("--purge"),
            Tables = parsed.Values("--table"),
            LockTimeout = TimeSpan.FromSeconds(parsed.Int("--lock-timeout") ?? 30),
            BusyTimeout = TimeSpan.FromSeconds(parsed.Int("--busy-timeout") ?? 30),
        }, cancellationToken).ConfigureAwait(false);
        PrintCapture(result, "disabled", parsed.Flag("--json"), stdout, stderr);
        return Success;
    }

    private static void PrintCapture(CaptureResult result, string verb, bool json, TextWriter stdout, TextWriter stderr, bool whatIf = false)
    {
        if (json)
        {
            stdout.WriteLine(new JsonObject
            {
                ["status"] = "Succeeded",
                ["whatIf"] = whatIf,
                ["path"] = result.Path,
                ["nodeId"] = result.NodeId,
                ["tables"] = new JsonArray(result.Tables.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
                ["discardedChanges"] = result.DiscardedChanges,
                ["warnings"] = new JsonArray(result.Warnings.Select(w => (JsonNode)JsonValue.Create(w)!).ToArray()),
            }.ToJsonString(JsonOptions));
        }

        foreach (var warning in result.Warnings)
        {
            stderr.WriteLine($"warning: {warning}");
        }

        if (json)
        {
            return;
        }

        stdout.WriteLine($"Capture {verb} on {result.Path}: {result.Tables.Count} table(s){(result.Tables.Count > 0 ? ": " + string.Join(", ", result.Tables) : "")}.");
        if (result.DiscardedChanges > 0)
        {
            stdout.WriteLine($"{result.DiscardedChanges} pending change(s) were discarded.");
        }
    }

    /// <summary>
    /// A <c>DbSync.BookkeepingFailed</c> failure's counts: PostgreSQL committed them, and a script counting what reached
    /// PostgreSQL needs them as a finished run's object gives them (docs/cli.md, JSON).
    /// </summary>
    public static void AddCommitted(JsonObject failure, DbSyncException error)
    {
        ArgumentNullException.ThrowIfNull(failure);
        ArgumentNullException.ThrowIfNull(error);
        if (error.Committed is { } committed)
        {
            // The counts as a finished run's object has them: one builder, ToJson.
            var run = ToJson(committed);
            foreach (var name in (string[])["inserted", "updated", "deleted", "conflicts", "conflictsResolved", "quarantined"])
            {
                failure[name] = run[name]!.DeepClone();
            }
        }
    }

    /// <summary>The JSON object printed by <c>sync --json</c> (docs/cli.md).</summary>
    public static JsonObject ToJson(SyncResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new JsonObject
        {
            ["runId"] = result.RunId.ToString(),
            ["nodeId"] = result.NodeId,
            ["status"] = result.Status.ToString(),
            ["path"] = result.Path,
            ["target"] = result.Target,
            ["startedAt"] = result.StartedAt.ToString("O", CultureInfo.InvariantCulture),
            ["finishedAt"] = result.FinishedAt.ToString("O", CultureInfo.InvariantCulture),
            ["durationMs"] = (long)result.Duration.TotalMilliseconds,
            ["inserted"] = result.Inserted,
            ["updated"] = result.Updated,
            ["deleted"] = result.Deleted,
            ["conflicts"] = result.Conflicts,
            ["conflictsResolved"] = result.ConflictsResolved,
            ["quarantined"] = result.Quarantined,
            ["version"] = SyncEngine.Version,
            ["log"] = new JsonObject
            {
                ["backupPath"] = result.Log.BackupPath,
                ["backup"] = result.Log.Backup,
                ["database"] = result.Log.Database,
                ["postgres"] = result.Log.Postgres,
                ["error"] = result.Log.Error,
            },
            ["tables"] = new JsonArray(result.Tables.Select(t => (JsonNode)new JsonObject
            {
                ["name"] = t.Name,
                ["target"] = t.Target,
                ["mode"] = t.Mode,
                ["status"] = t.Status.ToString(),
                ["inserted"] = t.Inserted,
                ["updated"] = t.Updated,
                ["deleted"] = t.Deleted,
                ["conflicts"] = t.Conflicts,
                ["conflictsResolved"] = t.ConflictsResolved,
                ["quarantined"] = t.Quarantined,
                ["nodePartitioned"] = t.NodePartitioned,
                ["errorId"] = t.ErrorId,
                ["message"] = t.Message,
            }).ToArray()),
            ["warnings"] = new JsonArray(result.Warnings.Select(w => (JsonNode)JsonValue.Create(w)!).ToArray()),
        };
    }

    /// <summary>
    /// A run's human-readable notes, on stderr in every mode: its warnings, and a line per table it skipped or held rows
    /// of. With --json, stderr stayed empty, so a cron job mailing stderr heard nothing of a partial run.
    /// </summary>
    private static void WriteNotes(SyncResult result, TextWriter stderr)
    {
        foreach (var warning in result.Warnings)
        {
            stderr.WriteLine($"warning: {warning}");
        }

        foreach (var table in result.Tables)
        {
            var pending = table.Conflicts - table.ConflictsResolved;
            if (table.Status != SyncStatus.Succeeded)
            {
                stderr.WriteLine($"dbsync: table {table.Name} was skipped: {table.ErrorId}: {table.Message}");
            }
            else if (table.Quarantined > 0 || pending > 0)
            {
                stderr.WriteLine($"dbsync: table {table.Name} held rows back ({table.Quarantined} quarantined, {pending} conflict(s) left by Fail); 'dbsync quarantine' lists them.");
            }
        }
    }

    private static void PrintResult(SyncResult result, TextWriter stdout, TextWriter stderr)
    {
        WriteNotes(result, stderr);

        var held = (result.Conflicts > 0 ? $", {result.Conflicts} conflict(s) ({result.ConflictsResolved} resolved)" : "")
            + (result.Quarantined > 0 ? $", {result.Quarantined} quarantined" : "");
        stdout.WriteLine($"{result.Status}: {result.Inserted} inserted, {result.Updated} updated, {result.Deleted} deleted{held} in {result.Duration.TotalSeconds:0.00} s (run {result.RunId})");
        foreach (var table in result.Tables)
        {
            var line = $"  {table.Name,-24} -> {table.Target,-32} {table.Mode,-11} +{table.Inserted} ~{table.Updated} -{table.Deleted}"
                + (table.Conflicts > 0 ? $" conflicts {table.Conflicts} ({table.ConflictsResolved} resolved)" : "")
                + (table.Quarantined > 0 ? $" quarantined {table.Quarantined}" : "")
                + (table.NodePartitioned ? " node-partitioned" : "");
            stdout.WriteLine(table.Status == SyncStatus.Succeeded ? line : $"{line}  {table.ErrorId}: {table.Message}");
        }
    }

    private static int Fail(DbSyncException ex, bool json, TextWriter stdout, TextWriter stderr)
    {
        var code = ex.ErrorId switch
        {
            ErrorIds.UsageError => Usage,
            ErrorIds.LockTimeout => Locked,
            ErrorIds.Cancelled => Cancelled,
            _ => Failed,
        };
        if (json)
        {
            var error = new JsonObject
            {
                ["status"] = code == Cancelled ? "Cancelled" : "Failed",
                ["errorId"] = ex.ErrorId,
                ["message"] = ex.Message,
            };
            if (ex.RunId is { } runId)
            {
                error["runId"] = runId.ToString();
            }

            AddCommitted(error, ex);
            stdout.WriteLine(error.ToJsonString(JsonOptions));
        }

        stderr.WriteLine($"dbsync: {ex.ErrorId}: {ex.Message}");
        return code;
    }

    private static ParsedArgs Parse(string[] args)
    {
        var command = args[0];
        if (!_commands.TryGetValue(command, out var spec))
        {
            throw UsageError($"Unknown command '{Secrets.Redact(command)}'. Commands: {string.Join(", ", _commands.Keys)}.");
        }

        var parsed = new ParsedArgs(command);
        for (var i = 1; i < args.Length; i++)
        {
            var arg = args[i];
            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            if (spec.Flags.Contains(arg))
            {
                // A switch takes no value: '--json=false' must not quietly mean --json.
                parsed.Flags.Add(inline is null ? arg : throw UsageError($"{arg} is a switch and takes no value ('{Secrets.Redact(args[i])}')."));
            }
            else if (spec.Options.Contains(arg))
            {
                var value = inline ?? (i + 1 < args.Length && !IsOptionName(args[i + 1]) ? args[++i] : throw UsageError($"Option {arg} needs a value."));
                if (!parsed.Options.TryGetValue(arg, out var list))
                {
                    parsed.Options[arg] = list = [];
                }

                if (list.Count > 0 && !_repeatable.Contains(arg))
                {
                    throw UsageError($"Option {arg} is given more than once.");
                }

                list.Add(value);
            }
            else
            {
                throw UsageError($"Unknown option '{Secrets.Redact(arg)}' for '{command}'. Options: {string.Join(", ", spec.Options.Concat(spec.Flags))}.");
            }
        }

        return parsed;
    }

    private static bool IsOptionName(string arg) => _commands.Values.Any(c => c.Options.Contains(arg) || c.Flags.Contains(arg));

    internal static DbSyncException UsageError(string message) => new(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument, message);

    /// <summary>The command whose help the arguments ask for, or null.</summary>
    private static string? CommandAskingHelp(string[] args)
    {
        if (!_commands.TryGetValue(args[0], out var spec))
        {
            return null;
        }

        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] is "--help" or "-h")
            {
                return args[0];
            }

            if (spec.Options.Contains(args[i]))
            {
                i++; // its value
            }
        }

        return null;
    }

    /// <summary>What each option's value is, as docs/cli.md's synopsis names it.</summary>
    private static readonly Dictionary<string, string> _placeholders = new(StringComparer.Ordinal)
    {
        ["--path"] = "FILE", ["--connection"] = "CONNSTR", ["--schema"] = "NAME", ["--table"] = "PATTERN", ["--batch-size"] = "N",
        ["--lock-timeout"] = "SECONDS", ["--busy-timeout"] = "SECONDS", ["--log-path"] = "JSONL", ["--keep-days"] = "N",
        ["--interval"] = "SECONDS", ["--conflict-policy"] = "SourceWins|TargetWins|Newest|Fail", ["--newest-column"] = "NAME",
        ["--node-partitioned"] = "PATTERN", ["--target-timeout"] = "SECONDS", ["--last"] = "N", ["--since"] = "ISO-8601",
        ["--status"] = "STATUS", ["--backup"] = "JSONL", ["--node"] = "ID", ["--run"] = "RUNID",
    };

    /// <summary>
    /// A command's options as a usage line: the required --path bare, the others in brackets, each with what its value is
    /// and `...` on those that repeat. Every option read as "[--path VALUE]", so the help called the one option every file
    /// command needs optional.
    /// </summary>
    private static string Synopsis(string command) => string.Join(" ", _commands[command].Options
        .Select(o => (Option: o, Text: $"{o} {_placeholders[o]}" + (_repeatable.Contains(o) ? "..." : "")))
        .Select(o => o.Option == "--path" && command is not ("conflicts" or "demo") ? o.Text : $"[{o.Text}]")
        .Concat(_commands[command].Flags.Select(f => $"[{f}]")));

    private static string CommandHelp(string command) => command == "version" ? VersionHelp : $"""
        dbsync {command}: {_commands[command].Summary}

        Usage: dbsync {command} {Synopsis(command)}

        docs/cli.md, "`{command}`", says what each option does, and gives the exit codes and JSON fields.
        """;

    /// <summary>`version` is no command of <see cref="_commands"/> (it opens nothing), but its help reads as theirs does.</summary>
    private const string VersionHelp = """
        dbsync version: print DbSync's version (with --json: {"version": "..."}).

        Usage: dbsync version [--json]   or   dbsync --version [--json]
        """;

    private static string Help() => $"""
        dbsync {SyncEngine.Version}: keeps PostgreSQL in step with a SQLite file.

        Usage: dbsync <command> [options]   (docs/cli.md has every option, exit code and JSON field)

        {string.Join(Environment.NewLine, _commands.Select(c => $"  {c.Key,-11} {c.Value.Summary}{Environment.NewLine}              {Synopsis(c.Key)}"))}

          version     print DbSync's version
                      [--json]

        Exit codes: 0 succeeded, 1 failed, 2 usage error, 3 partially succeeded, 4 another run holds the lock, 130 cancelled.
        """;

    private sealed record CommandSpec(string Summary, string[] Options, string[] Flags);

    private sealed class ParsedArgs(string command)
    {
        public string Command { get; } = command;

        public Dictionary<string, List<string>> Options { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Flags { get; } = new(StringComparer.Ordinal);

        public bool Flag(string name) => Flags.Contains(name);

        public string? Value(string name) => Options.TryGetValue(name, out var list) ? list[0] : null;

        public IReadOnlyList<string> Values(string name) => Options.TryGetValue(name, out var list) ? list : [];

        public string Required(string name) => Value(name) switch
        {
            null => throw UsageError($"Option {name} is required for '{Command}'."),
            var value when string.IsNullOrWhiteSpace(value) => throw UsageError($"Option {name} needs a value, not an empty string."),
            var value => value,
        };

        /// <summary>An enum option by member name, case-insensitively (numbers and comma lists are not names).</summary>
        public T? Enum<T>(string name)
            where T : struct, System.Enum
        {
            var text = Value(name);
            if (text is null)
            {
                return null;
            }

            var names = System.Enum.GetNames<T>();
            return names.FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase)) is { } match
                ? System.Enum.Parse<T>(match)
                : throw UsageError($"Option {name} must be one of {string.Join(", ", names)}, not '{Secrets.Redact(text)}'.");
        }

        /// <summary>
        /// ISO 8601 dates and date-times, with or without seconds, fractions and an offset (or Z); a space may stand for
        /// the T. Only these: DateTime.TryParse also took "Dec 1 2020" and "1/2/2020" (read as 2 January).
        /// </summary>
        private static readonly string[] _isoFormats =
        [
            "yyyy-MM-dd",
            "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
            "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
            "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF",
            "yyyy-MM-dd HH:mmK", "yyyy-MM-dd HH:mm:ssK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
        ];

        /// <summary>An ISO 8601 date or date-time option, as UTC (UTC unless it carries an offset).</summary>
        public DateTime? Time(string name)
        {
            var text = Value(name);
            if (text is null)
            {
                return null;
            }

            return DateTime.TryParseExact(text, _isoFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value)
                ? value
                : throw UsageError($"Option {name} needs an ISO 8601 date or date-time (2020-12-01, 2020-12-01T09:30:00Z, 2020-12-01T10:30+01:00), not '{Secrets.Redact(text)}'.");
        }

        /// <summary>
        /// A whole-number option from <paramref name="minimum"/> to <paramref name="maximum"/>; one message names the rule
        /// whatever the value breaks. A range is the cmdlet parameter's (ValidateRange), so that a value one refuses the
        /// other does not take: --target-timeout took 0 (a check that always failed) and crashed above 1024 (Npgsql's limit).
        /// </summary>
        public int? Int(string name, int minimum = 0, int maximum = int.MaxValue)
        {
            var text = Value(name);
            if (text is null)
            {
                return null;
            }

            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= minimum && value <= maximum)
            {
                return value;
            }

            // A whole number too large for the option (99999999999 for --lock-timeout) was told it needs "a whole number of
            // 0 or more", which it is: the limit is named (ops exploration, F10).
            var tooLarge = text.Length > 0 && text.All(char.IsAsciiDigit) && (text.TrimStart('0').Length > 10 || long.Parse(text, CultureInfo.InvariantCulture) > maximum);
            throw UsageError(maximum == int.MaxValue && !tooLarge
                    ? $"Option {name} needs a whole number of {minimum} or more, not '{Secrets.Redact(text)}'."
                    : $"Option {name} needs a whole number from {minimum} to {maximum}, not '{Secrets.Redact(text)}'.");
        }
    }
}
