using System.Collections.ObjectModel;
using System.Management.Automation;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>Turns -Path (wildcards, resolved by the provider) and -LiteralPath into file-system paths.</summary>
internal static class PathResolver
{
    /// <summary>Parameter set of the wildcard -Path parameter.</summary>
    public const string PathSet = "Path";

    /// <summary>Parameter set of -LiteralPath.</summary>
    public const string LiteralPathSet = "LiteralPath";

    /// <summary>
    /// The file-system paths a cmdlet works on. A literal path, or a -Path without wildcards, is passed on even when
    /// it does not exist, so that Core reports it with its own error id (DbSync.SourceNotFound, ...).
    /// </summary>
    /// <exception cref="DbSyncException">A wildcard matched nothing, or the path is not on the file system.</exception>
    public static IReadOnlyList<string> Resolve(PSCmdlet cmdlet, string[]? paths, bool literal)
    {
        var result = new List<string>();
        foreach (var path in paths ?? [])
        {
            if (literal || !WildcardPattern.ContainsWildcardCharacters(path))
            {
                result.Add(Unresolved(cmdlet, literal ? path : WildcardPattern.Unescape(path)));
                continue;
            }

            // A file of exactly that name wins over the pattern: DbSync's own results carry a Path (no PSPath), which
            // binds to -Path, and 'shop[1].sqlite' taken as a pattern named the other file 'shop1.sqlite'.
            if (TryUnresolved(cmdlet, path) is { } exact && File.Exists(exact))
            {
                result.Add(exact);
                continue;
            }

            Collection<string> resolved;
            ProviderInfo provider;
            try
            {
                resolved = cmdlet.GetResolvedProviderPathFromPSPath(path, out provider);
            }
            catch (ItemNotFoundException)
            {
                resolved = [];
                provider = null!;
            }

            if (resolved.Count == 0)
            {
                throw new DbSyncException(ErrorIds.SourceNotFound, DbSyncErrorCategory.ObjectNotFound,
                    $"No file matches '{Secrets.Redact(path)}'.", Secrets.Redact(path));
            }

            CheckFileSystem(provider, path);
            result.AddRange(resolved);
        }

        return result;
    }

    /// <summary>The path taken literally, when it is on the file system.</summary>
    private static string? TryUnresolved(PSCmdlet cmdlet, string path)
    {
        try
        {
            var full = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
            return string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase) ? full : null;
        }
        catch (SessionStateException)
        {
            // No such drive or provider: the pattern is resolved (and refused) below.
            return null;
        }
    }

    private static string Unresolved(PSCmdlet cmdlet, string path)
    {
        var full = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
        CheckFileSystem(provider, path);
        return full;
    }

    private static void CheckFileSystem(ProviderInfo provider, string path)
    {
        if (!string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase))
        {
            throw new DbSyncException(ErrorIds.SourceNotAFile, DbSyncErrorCategory.InvalidArgument,
                $"'{Secrets.Redact(path)}' is on the {provider.Name} provider; DbSync needs a SQLite file on the file system.", Secrets.Redact(path));
        }
    }
}
