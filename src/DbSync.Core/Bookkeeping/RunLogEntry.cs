using System.Text.Json;
using System.Text.Json.Serialization;

namespace DbSync.Core.Bookkeeping;

/// <summary>How a logged run ended (or that it has not).</summary>
public enum RunStatus
{
    /// <summary>Started and not finished yet.</summary>
    Running,
    /// <summary>Every selected table is in step.</summary>
    Succeeded,
    /// <summary>Some tables were skipped.</summary>
    PartiallySucceeded,
    /// <summary>Nothing was applied (or applied but not recorded, see the error id).</summary>
    Failed,
    /// <summary>Stopped by the user.</summary>
    Cancelled,
    /// <summary>Found unfinished later: the process died (killed, crashed, power lost).</summary>
    Abandoned,
}

/// <summary>
/// One run in the run log: the same entry is kept in the SQLite file (<c>_dbsync_runs</c>), appended to the
/// JSON-lines backup, and sent to <c>dbsync.runs</c> in PostgreSQL. Never contains a password.
/// </summary>
public sealed class RunLogEntry
{
    /// <summary>The run's id.</summary>
    [JsonRequired]
    public Guid RunId { get; set; }

    /// <summary>The SQLite file's node id; null when the run failed before the file could be read.</summary>
    public string? NodeId { get; set; }

    /// <summary>Full path of the SQLite file.</summary>
    public string? Path { get; set; }

    /// <summary>host:port/database as user.</summary>
    public string? Target { get; set; }

    /// <summary>Start, UTC.</summary>
    [JsonRequired]
    public DateTime StartedAt { get; set; }

    /// <summary>End, UTC; null while running or when abandoned.</summary>
    public DateTime? FinishedAt { get; set; }

    /// <summary>How the run ended.</summary>
    [JsonRequired]
    [JsonConverter(typeof(StatusConverter))]
    public RunStatus Status { get; set; }

    /// <summary>Rows inserted in PostgreSQL.</summary>
    [JsonRequired]
    public long Inserted { get; set; }

    /// <summary>Rows changed in PostgreSQL.</summary>
    [JsonRequired]
    public long Updated { get; set; }

    /// <summary>Rows deleted in PostgreSQL.</summary>
    [JsonRequired]
    public long Deleted { get; set; }

    /// <summary>Conflicts detected.</summary>
    public long Conflicts { get; set; }

    /// <summary>Conflicts resolved by policy.</summary>
    public long ConflictsResolved { get; set; }

    /// <summary>Rows held back in this run (poison rows).</summary>
    public long Quarantined { get; set; }

    /// <summary>How long the run took, in milliseconds, by a monotonic clock (a step of the wall clock does not change it).</summary>
    public long DurationMs { get; set; }

    /// <summary>Per-table counts.</summary>
    public List<TableLogEntry> Tables { get; set; } = [];

    /// <summary>Stable error id of a failed run.</summary>
    public string? ErrorId { get; set; }

    /// <summary>Error message of a failed run; never a password, whatever sets it (a run, or restore-log from an old backup).</summary>
    public string? Message { get => _message; set => _message = value is null ? null : Secrets.Redact(value); }

    private string? _message;

    /// <summary>DbSync version that ran.</summary>
    public string Version { get; set; } = SyncEngine.Version;

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(), new UtcConverter() },
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Instants in UTC, as DbSync writes them. An edited or foreign backup's time with an offset is that instant, and
    /// one without an offset is UTC, as for --since; System.Text.Json read both in the machine's zone, so a restored
    /// run could finish before it started.
    /// </summary>
    internal sealed class UtcConverter : JsonConverter<DateTime>
    {
        public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TryGetDateTime(out var value)
                ? value.Kind switch
                {
                    DateTimeKind.Local => value.ToUniversalTime(), // it carried an offset, which the reader applied
                    _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
                }
                : throw new JsonException("not an ISO 8601 date and time");

        public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }

    /// <summary>
    /// A status exactly as DbSync writes it, its name. JsonStringEnumConverter also reads numbers, any case and comma
    /// lists ("Running, Succeeded"), which restore-log then stored as statuses no run has.
    /// </summary>
    internal sealed class StatusConverter : JsonConverter<RunStatus>
    {
        public override RunStatus Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            return Enum.GetNames<RunStatus>().Contains(text, StringComparer.Ordinal)
                ? Enum.Parse<RunStatus>(text!)
                : throw new JsonException($"'status' is not one of {string.Join(", ", Enum.GetNames<RunStatus>())}.");
        }

        public override void Write(Utf8JsonWriter writer, RunStatus value, JsonSerializerOptions options)
        {
            ArgumentNullException.ThrowIfNull(writer);
            writer.WriteStringValue(value.ToString());
        }
    }

    /// <summary>The entry as one line of JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Builds the entry for a run result.</summary>
    public static RunLogEntry From(SyncResult result, DbSyncException? failure)
    {
        ArgumentNullException.ThrowIfNull(result);
        // A run whose bookkeeping failed did change PostgreSQL: its counts are true and stay in the entry.
        var applied = result.Status is SyncStatus.Succeeded or SyncStatus.PartiallySucceeded || failure?.ErrorId == ErrorIds.BookkeepingFailed;
        var status = result.Status switch
        {
            SyncStatus.Succeeded => RunStatus.Succeeded,
            SyncStatus.PartiallySucceeded => RunStatus.PartiallySucceeded,
            SyncStatus.Cancelled => RunStatus.Cancelled,
            _ => RunStatus.Failed,
        };
        return Build(result, status, applied, failure?.ErrorId, failure?.Message);
    }

    /// <summary>
    /// The entry of a run whose changes PostgreSQL committed and whose process then died before the file recorded them:
    /// <see cref="RunStatus.Abandoned"/>, with the counts PostgreSQL committed. Built just before the COMMIT and committed
    /// with the changes (in <c>dbsync.nodes</c>), so that the next run can log them; its message is set then.
    /// </summary>
    internal static RunLogEntry Committed(SyncResult result)
    {
        var entry = Build(result, RunStatus.Abandoned, applied: true, null, null);
        entry.FinishedAt = null;
        entry.DurationMs = (long)(result.Log.Clock?.Elapsed ?? TimeSpan.Zero).TotalMilliseconds;
        return entry;
    }

    private static RunLogEntry Build(SyncResult result, RunStatus status, bool applied, string? errorId, string? message) => new()
    {
        RunId = result.RunId,
        NodeId = result.NodeId,
        Path = result.Log.FilePath ?? result.Path,
        Target = result.Target,
        StartedAt = result.StartedAt,
        FinishedAt = result.FinishedAt,
        Status = status,
        Inserted = applied ? result.Inserted : 0,
        Updated = applied ? result.Updated : 0,
        Deleted = applied ? result.Deleted : 0,
        Conflicts = applied ? result.Conflicts : 0,
        ConflictsResolved = applied ? result.ConflictsResolved : 0,
        Quarantined = applied ? result.Quarantined : 0,
        // The run's finish is its start plus its monotonic clock (RunClock): never before its start.
        DurationMs = Math.Max(0, (long)result.Duration.TotalMilliseconds),
        Tables = result.Tables.Select(t => new TableLogEntry
        {
            // In a run that applied nothing (failed, cancelled), a table is not Succeeded however far it got: it has
            // the run's status (a cancelled run's tables read Succeeded with zero counts).
            Name = t.Name, Target = t.Target, Mode = t.Mode, Status = applied || t.Status != SyncStatus.Succeeded ? t.Status.ToString() : status.ToString(),
            Inserted = applied ? t.Inserted : 0, Updated = applied ? t.Updated : 0, Deleted = applied ? t.Deleted : 0,
            Conflicts = applied ? t.Conflicts : 0, ConflictsResolved = applied ? t.ConflictsResolved : 0, Quarantined = applied ? t.Quarantined : 0,
            ErrorId = t.ErrorId, Message = t.Message,
        }).ToList(),
        ErrorId = errorId,
        Message = message,
    };

    /// <summary>One line for logs: the status, the counts, the run and when it started (UTC), and the error id.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Status}: {Inserted} inserted, {Updated} updated, {Deleted} deleted, run {RunId} at {StartedAt:yyyy-MM-dd HH:mm:ss}Z{(ErrorId is null ? "" : $" ({ErrorId})")}");
}

/// <summary>One table's line in a run log entry.</summary>
public sealed class TableLogEntry
{
    /// <summary>Source table.</summary>
    public string Name { get; set; } = "";

    /// <summary>Target table, quoted and schema-qualified.</summary>
    public string Target { get; set; } = "";

    /// <summary>InitialLoad, FullCopy, Resync or Push.</summary>
    public string Mode { get; set; } = "";

    /// <summary>Succeeded or Failed; in a failed or cancelled run that applied nothing, the run's status (Failed, Cancelled).</summary>
    public string Status { get; set; } = "";

    /// <summary>Rows inserted.</summary>
    public long Inserted { get; set; }

    /// <summary>Rows changed.</summary>
    public long Updated { get; set; }

    /// <summary>Rows deleted.</summary>
    public long Deleted { get; set; }

    /// <summary>Conflicts met in this table.</summary>
    public long Conflicts { get; set; }

    /// <summary>Conflicts resolved by policy in this table.</summary>
    public long ConflictsResolved { get; set; }

    /// <summary>Rows of this table held back in this run.</summary>
    public long Quarantined { get; set; }

    /// <summary>Why the table was skipped.</summary>
    public string? ErrorId { get; set; }

    /// <summary>Why the table was skipped, in words; never a password.</summary>
    public string? Message { get => _message; set => _message = value is null ? null : Secrets.Redact(value); }

    private string? _message;
}

/// <summary>Which runs <c>dbsync log</c> shows.</summary>
public sealed class LogQuery
{
    /// <summary>The SQLite file.</summary>
    public required string Path { get; init; }

    /// <summary>Only the newest N runs.</summary>
    public int? Last { get; init; }

    /// <summary>Only runs started at or after this instant.</summary>
    public DateTime? Since { get; init; }

    /// <summary>Only runs with this status.</summary>
    public RunStatus? Status { get; init; }

    /// <summary>
    /// The backup that says how a run still recorded Running ended; default DBSYNC_LOG_PATH, else the file's own. A
    /// caller with its own notion of the current folder (PowerShell's location) passes DBSYNC_LOG_PATH resolved.
    /// </summary>
    public string? BackupPath { get; init; }
}

/// <summary>What <c>dbsync restore-log</c> does.</summary>
public sealed class RestoreLogRequest
{
    /// <summary>The SQLite file to restore entries into.</summary>
    public required string Path { get; init; }

    /// <summary>The backup to read; default the database's own.</summary>
    public string? BackupPath { get; init; }

    /// <summary>Report what would be restored and change nothing.</summary>
    public bool WhatIf { get; init; }

    /// <summary>How long to wait while a sync of the same file holds its lock.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>A backup line that could not be restored.</summary>
/// <param name="Line">1-based line number in the backup.</param>
/// <param name="Reason">Why it is invalid.</param>
public sealed record InvalidLogLine(int Line, string Reason);

/// <summary>The outcome of a restore.</summary>
public sealed class RestoreLogResult
{
    /// <summary>The backup that was read.</summary>
    public required string BackupPath { get; init; }

    /// <summary>Entries written to the database (or that would be, with WhatIf).</summary>
    public required IReadOnlyList<RunLogEntry> Restored { get; init; }

    /// <summary>Valid lines not restored: another file's run, a run already recorded as final, or a line of a run that a more final one supersedes.</summary>
    public int Skipped { get; init; }

    /// <summary>Lines that are not valid entries, each with its reason.</summary>
    public required IReadOnlyList<InvalidLogLine> Invalid { get; init; }

    /// <summary>True when nothing was written (WhatIf).</summary>
    public bool WhatIf { get; init; }
}
