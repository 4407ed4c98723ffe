using System.Management.Automation;
using DbSync.Core;
using DbSync.PowerShell.Infrastructure;
using DriveNotFoundException = System.Management.Automation.DriveNotFoundException;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// Path resolution, with PowerShell's providers stood in for by what they answer (the reference library cannot resolve
/// paths): a failure about one path is that path's DbSync error, and the paths after it are still resolved.
/// </summary>
public sealed class PathResolverTests
{
    /// <summary>Answers like a session with only the FileSystem provider's drives, and an env: drive.</summary>
    private sealed class Provider : IPathProvider
    {
        public (string Path, string Provider) Unresolved(string path) => path switch
        {
            _ when path.StartsWith("Q:", StringComparison.Ordinal) => throw new DriveNotFoundException("Cannot find drive. A drive with the name 'Q' does not exist."),
            _ when path.StartsWith("NoSuch::", StringComparison.Ordinal) => throw new ProviderNotFoundException("Cannot find a provider with the name 'NoSuch'."),
            _ when path.StartsWith("Bad:", StringComparison.Ordinal) => throw new PSArgumentException("Illegal characters in path."),
            _ when path.StartsWith("Stop:", StringComparison.Ordinal) => throw new PipelineStoppedException(),
            _ when path.StartsWith("env:", StringComparison.Ordinal) => (path[4..], "Environment"),
            _ => (path, "FileSystem"),
        };

        public (IReadOnlyList<string> Paths, string? Provider) Resolved(string pattern) => throw new DriveNotFoundException("Cannot find drive.");
    }

    [Fact]
    public void A_path_on_a_drive_or_provider_that_does_not_exist_is_that_paths_SourceNotFound_and_the_next_path_is_resolved()
    {
        var errors = new List<DbSyncException>();
        var files = PathResolver.ResolveEach(new Provider(), ["Q:/shop.sqlite", "NoSuch::/shop.sqlite", "Bad:/a|b", "/data/good.sqlite", "env:PATH"],
            literal: true, errors.Add);

        Assert.Equal(["/data/good.sqlite"], files);
        Assert.Equal(4, errors.Count);
        Assert.Equal([ErrorIds.SourceNotFound, ErrorIds.SourceNotFound, ErrorIds.SourceNotFound, ErrorIds.SourceNotAFile], errors.Select(e => e.ErrorId));
        Assert.Equal(["Q:/shop.sqlite", "NoSuch::/shop.sqlite", "Bad:/a|b", "env:PATH"], errors.Select(e => e.Target));
        Assert.Equal(DbSyncErrorCategory.ObjectNotFound, errors[0].Category);
        Assert.Equal(DbSyncErrorCategory.ObjectNotFound, errors[1].Category);
        Assert.Equal(DbSyncErrorCategory.InvalidArgument, errors[2].Category);
        Assert.IsType<DriveNotFoundException>(errors[0].InnerException);
        Assert.StartsWith("'Q:/shop.sqlite' cannot be resolved: ", errors[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stopped_pipeline_is_not_a_path_failure()
    {
        Assert.Throws<PipelineStoppedException>(() => PathResolver.ResolveEach(new Provider(), ["Stop:/x", "/data/good.sqlite"], literal: true, _ => { }));
        Assert.False(PathResolver.IsPathFailure(new PipelineStoppedException()));
        Assert.True(PathResolver.IsPathFailure(new DriveNotFoundException("x")));
        Assert.True(PathResolver.IsPathFailure(new ItemNotFoundException("x")));
    }
}
