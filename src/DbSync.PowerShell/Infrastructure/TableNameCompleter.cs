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

    private static string? ResolveFile(IDictionary bound)
    {
        var literal = bound["LiteralPath"] ?? bound["PSPath"];
        var value = First(literal ?? bound["Path"]);
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        // Relative paths are relative to PowerShell's location, not the process's working folder.
        using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        ps.AddCommand("Microsoft.PowerShell.Management\\Resolve-Path").AddParameter(literal is null ? "Path" : "LiteralPath", value)
            .AddParameter("ErrorAction", "Ignore");
        var resolved = ps.Invoke().FirstOrDefault()?.Properties["ProviderPath"]?.Value as string;
        return resolved;
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
