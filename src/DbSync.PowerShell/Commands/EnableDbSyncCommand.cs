using System.Management.Automation;
using DbSync.Core;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Installs change capture in SQLite files without syncing (dbsync enable).</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Enable, "DbSync", DefaultParameterSetName = PathResolver.PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(CaptureResult))]
public sealed class EnableDbSyncCommand : PSCmdlet
{
    private readonly CoreRunner _runner = new();

    #region Parameters

    /// <summary>The SQLite file(s); wildcards are resolved by the provider.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathResolver.PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>The SQLite file(s), taken literally.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathResolver.LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>Capture only matching tables (* and ?). Default: every table.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Table { get; set; } = [];

    /// <summary>Seconds to wait while another run holds the file's lock.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int LockTimeout { get; set; } = 30;

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        IReadOnlyList<string> files;
        try
        {
            files = PathResolver.Resolve(this, ParameterSetName == PathResolver.LiteralPathSet ? LiteralPath : Path, ParameterSetName == PathResolver.LiteralPathSet);
        }
        catch (DbSyncException ex)
        {
            ThrowTerminatingError(Errors.From(ex, null));
            return;
        }

        var engine = new SyncEngine();
        foreach (var file in files)
        {
            if (!ShouldProcess(file, "Install change capture"))
            {
                continue;
            }

            CaptureResult result;
            try
            {
                result = _runner.Run(token => engine.EnableAsync(BuildRequest(file), token));
            }
            catch (DbSyncException ex)
            {
                ThrowTerminatingError(Errors.From(ex, file));
                return;
            }

            foreach (var warning in result.Warnings)
            {
                WriteWarning(warning);
            }

            WriteObject(result);
        }
    }

    /// <inheritdoc />
    protected override void StopProcessing() => _runner.Stop();

    /// <inheritdoc />
    protected override void EndProcessing() => _runner.Dispose();

    #endregion

    /// <summary>The Core request for one file.</summary>
    internal EnableRequest BuildRequest(string path) => new()
    {
        Path = path,
        Tables = Table,
        LockTimeout = TimeSpan.FromSeconds(LockTimeout),
    };
}
