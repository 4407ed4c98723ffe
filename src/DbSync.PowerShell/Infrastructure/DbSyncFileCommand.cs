using System.Diagnostics;
using System.Management.Automation;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// What every DbSync cmdlet shares: the SQLite file(s) as -Path (wildcards) or -LiteralPath (alias PSPath), the
/// runner that keeps Write* calls on the pipeline thread and cancels Core on Ctrl+C, and the mapping of Core's
/// failures to terminating errors. It holds no field of a DbSync.Core type: PowerShell reflects over cmdlet types
/// before the module's load context can resolve Core.
/// </summary>
public abstract class DbSyncFileCommand : PSCmdlet
{
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

    internal CoreRunner Runner { get; } = new();

    /// <summary>The files -Path or -LiteralPath name; a path that resolves to nothing is a terminating error.</summary>
    protected IReadOnlyList<string> ResolveFiles()
    {
        var literal = ParameterSetName == PathResolver.LiteralPathSet;
        try
        {
            return PathResolver.Resolve(this, literal ? LiteralPath : Path, literal);
        }
        catch (DbSyncException ex)
        {
            throw Terminating(Errors.From(ex, null));
        }
    }

    /// <summary>Runs a Core operation for one file; a failure that stops it is a terminating error.</summary>
    protected T RunCore<T>(string file, Func<CancellationToken, Task<T>> operation)
    {
        try
        {
            return Runner.Run(operation);
        }
        catch (DbSyncException ex)
        {
            throw Terminating(Errors.From(ex, file));
        }
    }

    /// <summary>Throws a terminating error (the return value only lets callers write <c>throw</c>).</summary>
    protected Exception Terminating(ErrorRecord record)
    {
        ThrowTerminatingError(record);
        return new UnreachableException();
    }

    /// <inheritdoc />
    protected override void StopProcessing() => Runner.Stop();

    /// <inheritdoc />
    protected override void EndProcessing() => Runner.Dispose();
}
