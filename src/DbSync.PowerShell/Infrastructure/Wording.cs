using System.Text.RegularExpressions;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// Core's messages name the CLI's options and commands (docs/cli.md pairs each with its cmdlet parameter): shown to a
/// PowerShell user, "use --force" becomes "use -Force" and "see dbsync conflicts" "see Get-DbSyncConflict".
/// </summary>
internal static partial class Wording
{
    private static readonly Dictionary<string, string> Parameters = new(StringComparer.Ordinal)
    {
        ["path"] = "Path", ["connection"] = "ConnectionString", ["schema"] = "Schema", ["table"] = "Table",
        ["batch-size"] = "BatchSize", ["lock-timeout"] = "LockTimeout", ["busy-timeout"] = "BusyTimeout",
        ["log-path"] = "LogPath", ["keep-days"] = "KeepDays", ["prune-backup"] = "PruneBackup", ["interval"] = "Interval",
        ["watch"] = "Continuous", ["resync"] = "Resync", ["preserve-case"] = "PreserveCase", ["what-if"] = "WhatIf",
        ["conflict-policy"] = "ConflictPolicy", ["newest-column"] = "NewestColumn", ["node-partitioned"] = "NodePartitioned",
        ["force"] = "Force", ["purge"] = "Purge", ["target-timeout"] = "TargetTimeout", ["detailed"] = "Detailed",
        ["last"] = "Last", ["since"] = "Since", ["status"] = "Status", ["backup"] = "BackupPath", ["node"] = "NodeId",
        ["run"] = "RunId", ["retry"] = "Retry",
    };

    private static readonly Dictionary<string, string> Commands = new(StringComparer.Ordinal)
    {
        ["sync"] = "Start-DbSync", ["status"] = "Get-DbSyncStatus", ["test"] = "Test-DbSyncConnection", ["log"] = "Get-DbSyncLog",
        ["restore-log"] = "Restore-DbSyncLog", ["conflicts"] = "Get-DbSyncConflict", ["quarantine"] = "Get-DbSyncQuarantine",
        ["reset-node"] = "Reset-DbSyncNode", ["enable"] = "Enable-DbSync", ["disable"] = "Disable-DbSync",
    };

    // Where DbSync's own wording names an option or a command: at the start, after white space, or after an opening
    // parenthesis that follows white space ("(--busy-timeout)", "(see dbsync conflicts)"). Data Core quotes without
    // single or double quotes follows something else: a row key "(Name=--force)", PostgreSQL's "Key (x)=(--force)".
    private const string Start = @"(?<=(?:^|\s)\(?)";

    [GeneratedRegex(Start + @"--(?<name>[a-z][a-z-]*[a-z])(?![\w-])")]
    private static partial Regex OptionPattern();

    [GeneratedRegex(Start + @"dbsync (?<name>[a-z][a-z-]*[a-z])(?![\w-])")]
    private static partial Regex CommandPattern();

    // A quoted span: values, names, paths and PostgreSQL's identifiers are quoted in Core's messages. A quote opens
    // only where no letter precedes it and closes only where none follows, so an apostrophe inside the data ('don't')
    // does not end the span.
    [GeneratedRegex(@"(?<!\w)'(?<single>(?:[^'\n]|'(?=\w))*)'(?!\w)|(?<!\w)""(?:[^""\n])*""(?!\w)")]
    private static partial Regex QuotedPattern();

    // A quoted CLI command line, which is DbSync's wording and not data: 'dbsync restore-log',
    // 'dbsync reset-node --path <the copy> --connection ...', 'dbsync reset-node --path "/data/a.sqlite" --connection ...'.
    [GeneratedRegex(@"^dbsync [a-z][a-z-]*[a-z](?: (?:--[a-z][a-z-]*[a-z]|<[^<>']*>|""[^""\n]*""|\.\.\.))*$")]
    private static partial Regex CommandLinePattern();

    // Core names the cmdlet for PowerShell users beside a CLI command line ("run 'dbsync reset-node ...'
    // (Reset-DbSyncNode)", "'dbsync test' (Test-DbSyncConnection) names ...") and both names of an option ("--log-path
    // or -LogPath", "--connection (-ConnectionString)"): rewritten, each said the same thing twice ("Reset-DbSyncNode
    // -Path ... (Reset-DbSyncNode)", "-LogPath or -LogPath", "-ConnectionString (-ConnectionString)").
    [GeneratedRegex(@"(?<![\w-])(?<command>(?:Start|Get|Test|Enable|Disable|Restore|Reset)-DbSync[A-Za-z]*)(?<rest>[^()\n]*?) \(\k<command>\)")]
    private static partial Regex RepeatedCommandPattern();

    [GeneratedRegex(@"(?<![\w-])(?<parameter>-[A-Z][A-Za-z]*)(?: or \k<parameter>| \(\k<parameter>\))(?![\w-])")]
    private static partial Regex RepeatedParameterPattern();

    /// <summary>
    /// <paramref name="text"/> with the CLI's names replaced by the cmdlets'; names it does not know stay. Text inside
    /// single or double quotes is data (a value, a name, a path, PostgreSQL's text) and stays as it is, except a
    /// quoted DbSync command line, which becomes the cmdlet's (without the quotes). A quoted value that is itself
    /// exactly such a command line cannot be told apart from DbSync's wording. A cmdlet or parameter the rewriting
    /// names twice in a row ("Reset-DbSyncNode ... (Reset-DbSyncNode)", "-LogPath or -LogPath", "-ConnectionString (-ConnectionString)") is named once.
    /// </summary>
    public static string ForPowerShell(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new System.Text.StringBuilder(text.Length);
        var at = 0;
        foreach (Match quoted in QuotedPattern().Matches(text))
        {
            result.Append(Rewrite(text[at..quoted.Index]));
            var single = quoted.Groups["single"];
            var commandLine = single.Success && CommandLinePattern().IsMatch(single.Value) && Commands.ContainsKey(single.Value.Split(' ')[1]);
            result.Append(commandLine ? Rewrite(single.Value) : quoted.Value);
            at = quoted.Index + quoted.Length;
        }

        var shown = result.Append(Rewrite(text[at..])).ToString();
        shown = RepeatedCommandPattern().Replace(shown, m => m.Groups["command"].Value + m.Groups["rest"].Value);
        return RepeatedParameterPattern().Replace(shown, m => m.Groups["parameter"].Value);
    }

    /// <summary>The CLI's names in text that holds no quoted data.</summary>
    private static string Rewrite(string text)
    {
        text = OptionPattern().Replace(text, m => Parameters.TryGetValue(m.Groups["name"].Value, out var parameter) ? "-" + parameter : m.Value);
        return CommandPattern().Replace(text, m => Commands.TryGetValue(m.Groups["name"].Value, out var command) ? command : m.Value);
    }
}
