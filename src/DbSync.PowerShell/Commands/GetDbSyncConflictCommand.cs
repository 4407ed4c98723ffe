using System.Management.Automation;
using DbSync.Core;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Reads the conflicts recorded in PostgreSQL (dbsync.conflicts), newest first (dbsync conflicts). Never writes.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "DbSyncConflict", DefaultParameterSetName = PathResolver.PathSet)]
[OutputType(typeof(ConflictRecord))]
public sealed class GetDbSyncConflictCommand : DbSyncCommand
{
    /// <summary>Parameter set of -NodeId.</summary>
    internal const string NodeIdSet = "NodeId";

    private Guid? _runId;
    private DateTime? _since;

    #region Parameters

    /// <summary>Only the conflicts of these SQLite files' nodes; wildcards are resolved by the provider. Without -Path, -LiteralPath or -NodeId: every node's.</summary>
    [Parameter(Position = 0, ParameterSetName = PathResolver.PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Only the conflicts of these SQLite files' nodes, the paths taken literally.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathResolver.LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>
    /// The SQLite file a piped Get-DbSyncLog entry was read from (the entry's ReadFrom note), taken literally instead of
    /// the entry's Path, which names where the file was when that run ran. Hidden: nobody types it.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    public string? ReadFrom { get; set; }

    /// <summary>Only the conflicts of this node id (for a file that is not at hand).</summary>
    [Parameter(Mandatory = true, ParameterSetName = NodeIdSet)]
    [ValidateNotNullOrEmpty]
    public string NodeId { get; set; } = "";

    /// <summary>Npgsql connection string; default DBSYNC_CONNECTION (an empty or blank value of either counts as not given). A password in it is never shown.</summary>
    [Parameter(Position = 1)]
    public string? ConnectionString { get; set; }

    /// <summary>User name and password for PostgreSQL; override those of the connection string.</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>Only conflicts in matching SQLite tables (* and ?, case-insensitive).</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Table { get; set; } = [];

    /// <summary>Only the conflicts of this run; binds the RunId of piped Start-DbSync results and run log entries.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public Guid RunId
    {
        get => _runId ?? Guid.Empty;
        // PowerShell resets a pipeline-bound parameter between records to what the getter gave at the start: the
        // empty id means "not given", or a record without a RunId would look for conflicts of run 00000000-....
        set => _runId = value == Guid.Empty ? null : value;
    }

    /// <summary>Only conflicts at or after this instant, a [DateTime] (or a [DateTimeOffset], taken as its UTC instant). A local time (Get-Date) is converted; a date without a kind is UTC, as in the CLI.</summary>
    [Parameter]
    [DateTimeOffset]
    public DateTime Since
    {
        get => _since ?? default;
        set => _since = value;
    }

    /// <summary>At most this many conflicts, newest first.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Last { get; set; } = 100;

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var engine = new SyncEngine();
        var literal = ParameterSetName == PathResolver.LiteralPathSet;
        var paths = literal ? LiteralPath : Path;
        if (Given(ReadFrom) is { } readFrom && paths.Length > 0)
        {
            // A piped run log entry: its Path is where the file was when that run ran; the file whose log was read is
            // the one asked about (see DbSyncFileCommand.ReadFrom).
            (paths, literal) = ([readFrom], true);
        }

        if (paths.Length == 0)
        {
            // -NodeId, or no filter at all: one query.
            var query = BuildQuery(null);
            WriteObject(RunCore(query.NodeId, token => engine.GetConflictsAsync(query, token)), enumerateCollection: true);
            return;
        }

        foreach (var file in ResolveFiles(paths, literal))
        {
            if (!TryRunCore(file, token => engine.GetConflictsAsync(BuildQuery(file), token), out var conflicts))
            {
                continue;
            }

            WriteObject(conflicts, enumerateCollection: true);
        }
    }

    #endregion

    /// <summary>The Core query for one file, or for -NodeId (or every node) when <paramref name="path"/> is null.</summary>
    internal ConflictQuery BuildQuery(string? path) => new()
    {
        ConnectionString = Connection.FromParameterOrEnvironment(ConnectionString) ?? "",
        Credential = Connection.ToNetworkCredential(Credential),
        Path = path,
        NodeId = path is null && NodeId.Length > 0 ? NodeId : null,
        Tables = Table,
        RunId = _runId,
        Since = _since is { } since ? Times.ToUtc(since) : null,
        Last = Last,
    };
}
