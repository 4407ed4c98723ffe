using System.Collections.ObjectModel;
using System.Management.Automation;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>What <see cref="PathResolver"/> asks PowerShell's providers: a cmdlet's session state in the module.</summary>
internal interface IPathProvider
{
    /// <summary>The provider path <paramref name="path"/> names, without requiring it to exist, and its provider's name.</summary>
    (string Path, string Provider) Unresolved(string path);

    /// <summary>The provider paths a wildcard <paramref name="pattern"/> matches (none: empty), and their provider's name.</summary>
    (IReadOnlyList<string> Paths, string? Provider) Resolved(string pattern);
}

/// <summary>Turns -Path (wildcards, resolved by the provider) and -LiteralPath into file-system paths.</summary>
internal static class PathResolver
{
    /// <summary>Parameter set of the wildcard -Path parameter.</summary>
    public const string PathSet = "Path";

    /// <summary>Parameter set of -LiteralPath.</summary>
    public const string LiteralPathSet = "LiteralPath";

    /// <summary>
    /// The file-system paths <paramref name="paths"/> name, each resolved on its own: a path that fails to resolve
    /// (no such file for a pattern, no such drive or provider, not the file system) is passed to
    /// <paramref name="failed"/> as that path's error, and the others are still resolved.
    /// </summary>
    public static IReadOnlyList<string> ResolveEach(IPathProvider provider, IEnumerable<string> paths, bool literal, Action<DbSyncException> failed)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            try
            {
                files.AddRange(Resolve(provider, path, literal));
            }
            catch (DbSyncException ex)
            {
                failed(ex);
            }
        }

        return files;
    }

    /// <summary>
    /// The file-system paths one path names. A literal path, or a -Path without wildcards, is passed on even when it
    /// does not exist, so that Core reports it with its own error id (DbSync.SourceNotFound, ...).
    /// </summary>
    /// <exception cref="DbSyncException">
    /// A wildcard matched nothing, the path's drive or provider does not exist or refused it (SourceNotFound), or the
    /// path is not on the file system (SourceNotAFile).
    /// </exception>
    public static IReadOnlyList<string> Resolve(IPathProvider provider, string path, bool literal)
    {
        if (literal || !WildcardPattern.ContainsWildcardCharacters(path))
        {
            var (full, name) = Guarded(path, () => provider.Unresolved(literal ? path : WildcardPattern.Unescape(path)));
            CheckFileSystem(name, path);
            return [full];
        }

        // A file of exactly that name wins over the pattern: DbSync's own results carry a Path (no PSPath), which
        // binds to -Path, and 'shop[1].sqlite' taken as a pattern named the other file 'shop1.sqlite'.
        if (TryUnresolved(provider, path) is { } exact && File.Exists(exact))
        {
            return [exact];
        }

        var (resolved, resolvedProvider) = Guarded(path, () => provider.Resolved(path));
        if (resolved.Count == 0)
        {
            throw new DbSyncException(ErrorIds.SourceNotFound, DbSyncErrorCategory.ObjectNotFound,
                $"No file matches '{Secrets.Redact(path)}'.", Secrets.Redact(path));
        }

        CheckFileSystem(resolvedProvider ?? "", path);
        return resolved;
    }

    /// <summary>
    /// A failure PowerShell's path resolution reports about the path itself: no such drive or provider (a network drive
    /// that is not mapped), an item the provider cannot find, a path it refuses. A stopped pipeline is not one.
    /// </summary>
    public static bool IsPathFailure(Exception exception) => exception is not PipelineStoppedException
        and (RuntimeException or ArgumentException or NotSupportedException or InvalidOperationException or IOException
            or UnauthorizedAccessException or System.Security.SecurityException);

    /// <summary><paramref name="resolve"/>, with a path failure turned into the path's DbSync.SourceNotFound.</summary>
    private static T Guarded<T>(string path, Func<T> resolve)
    {
        try
        {
            return resolve();
        }
        catch (Exception ex) when (IsPathFailure(ex))
        {
            throw new DbSyncException(ErrorIds.SourceNotFound,
                ex is SessionStateException ? DbSyncErrorCategory.ObjectNotFound : DbSyncErrorCategory.InvalidArgument,
                Secrets.Redact($"'{path}' cannot be resolved: {ex.Message}"), Secrets.Redact(path), ex);
        }
    }

    /// <summary>The path taken literally, when it is on the file system.</summary>
    private static string? TryUnresolved(IPathProvider provider, string path)
    {
        try
        {
            var (full, name) = provider.Unresolved(path);
            return string.Equals(name, "FileSystem", StringComparison.OrdinalIgnoreCase) ? full : null;
        }
        catch (Exception ex) when (IsPathFailure(ex))
        {
            // No such drive or provider: the pattern is resolved (and refused) below.
            return null;
        }
    }

    private static void CheckFileSystem(string provider, string path)
    {
        if (!string.Equals(provider, "FileSystem", StringComparison.OrdinalIgnoreCase))
        {
            throw new DbSyncException(ErrorIds.SourceNotAFile, DbSyncErrorCategory.InvalidArgument,
                $"'{Secrets.Redact(path)}' is on the {provider} provider; DbSync needs a SQLite file on the file system.", Secrets.Redact(path));
        }
    }
}

/// <summary>A cmdlet's session state as the <see cref="IPathProvider"/> of <see cref="PathResolver"/>.</summary>
internal sealed class SessionPathProvider(PSCmdlet cmdlet) : IPathProvider
{
    /// <inheritdoc />
    public (string Path, string Provider) Unresolved(string path)
    {
        var full = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
        return (full, provider.Name);
    }

    /// <inheritdoc />
    public (IReadOnlyList<string> Paths, string? Provider) Resolved(string pattern)
    {
        try
        {
            Collection<string> resolved = cmdlet.GetResolvedProviderPathFromPSPath(pattern, out var provider);
            return (resolved, provider.Name);
        }
        catch (ItemNotFoundException)
        {
            return ([], null);
        }
    }
}
