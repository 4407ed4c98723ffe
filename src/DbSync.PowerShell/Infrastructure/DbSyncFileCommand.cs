using System.Management.Automation;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// A DbSync cmdlet that works on SQLite files: -Path (wildcards) or -LiteralPath (aliases PSPath, and FullName so that
/// 'Select-Object FullName' and a CSV of full names bind as files, not as their string form '@{FullName=...}'), one of
/// them required. Like its base, it holds no field of a DbSync.Core type.
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
    [Alias("PSPath", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>
    /// The SQLite file a piped Get-DbSyncLog entry was read from (the entry's ReadFrom note), taken literally instead of
    /// the entry's Path. Hidden: nobody types it.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    public string? ReadFrom { get; set; }

    /// <summary>The files -Path or -LiteralPath name; a path that resolves to nothing is a terminating error.</summary>
    protected IReadOnlyList<string> ResolveFiles()
    {
        // A run log entry's Path is where the file was when that run ran (renamed, moved, copied or restored since, it
        // names another file, or none); the file whose log was read is the one asked about.
        if (Given(ReadFrom) is { } readFrom)
        {
            return ResolveFiles([readFrom], literal: true);
        }

        var literal = ParameterSetName == PathResolver.LiteralPathSet;
        return ResolveFiles(literal ? LiteralPath : Path, literal);
    }
}
