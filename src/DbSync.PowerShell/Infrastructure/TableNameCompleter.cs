using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>Tab completion for -Table: the tables of the SQLite file given by -Path or -LiteralPath. Read-only.</summary>
public sealed class TableNameCompleter : IArgumentCompleter
{
    /// <inheritdoc />
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        ArgumentNullException.ThrowIfNull(fakeBoundParameters);
        var path = ResolveFile(fakeBoundParameters);
        if (path is null)
        {
            return [];
        }

        var word = (wordToComplete ?? "").Trim('\'', '"');
        var pattern = new WildcardPattern(word + "*", WildcardOptions.IgnoreCase);
        return SyncEngine.ListTables(path)
            .Where(pattern.IsMatch)
            .Select(name => new CompletionResult(Quote(name), name, CompletionResultType.ParameterValue, name))
            .ToList();
    }

    /// <summary>
    /// The file -Path or -LiteralPath names, resolved as the cmdlet resolves it (<see cref="PathResolver"/>: relative to
    /// PowerShell's location, and a file of exactly the -Path's name wins over the pattern); null when it names none.
    /// </summary>
    private static string? ResolveFile(IDictionary bound)
    {
        var literal = bound["LiteralPath"] ?? bound["PSPath"];
        var value = First(literal ?? bound["Path"]);
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        ps.AddScript("$ExecutionContext.SessionState.Path");
        if (ps.Invoke().FirstOrDefault()?.BaseObject is not PathIntrinsics paths)
        {
            return null;
        }

        try
        {
            var files = PathResolver.Resolve(new IntrinsicsPathProvider(paths), value, literal is not null);
            return files.Count > 0 && File.Exists(files[0]) ? files[0] : null;
        }
        catch (DbSyncException)
        {
            return null;
        }
    }

    private static string? First(object? value) => value switch
    {
        null => null,
        string s => s,
        IEnumerable e => e.Cast<object?>().Select(o => o?.ToString()).FirstOrDefault(),
        _ => value.ToString(),
    };

    private static string Quote(string name) =>
        name.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.') ? name : "'" + name.Replace("'", "''", StringComparison.Ordinal) + "'";
}

/// <summary>A session's <see cref="PathIntrinsics"/> as the <see cref="IPathProvider"/> of <see cref="PathResolver"/>, where no cmdlet runs (tab completion).</summary>
internal sealed class IntrinsicsPathProvider(PathIntrinsics paths) : IPathProvider
{
    /// <inheritdoc />
    public (string Path, string Provider) Unresolved(string path)
    {
        var full = paths.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
        return (full, provider.Name);
    }

    /// <inheritdoc />
    public (IReadOnlyList<string> Paths, string? Provider) Resolved(string pattern)
    {
        try
        {
            var resolved = paths.GetResolvedProviderPathFromPSPath(pattern, out var provider);
            return (resolved, provider.Name);
        }
        catch (ItemNotFoundException)
        {
            return ([], null);
        }
    }
}
