using System.Management.Automation;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// A DbSync cmdlet that works on SQLite files: -Path (wildcards) or -LiteralPath (alias PSPath), one of them
/// required. Like its base, it holds no field of a DbSync.Core type.
/// </summary>
public abstract class DbSyncFileCommand : DbSyncCommand
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

    /// <summary>The files -Path or -LiteralPath name; a path that resolves to nothing is a terminating error.</summary>
    protected IReadOnlyList<string> ResolveFiles()
    {
        var literal = ParameterSetName == PathResolver.LiteralPathSet;
        return ResolveFiles(literal ? LiteralPath : Path, literal);
    }
}
