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

    [GeneratedRegex(@"(?<![\w-])--(?<name>[a-z][a-z-]*[a-z])(?![\w-])")]
    private static partial Regex OptionPattern();

    [GeneratedRegex(@"'?\bdbsync (?<name>[a-z][a-z-]*[a-z])\b'?")]
    private static partial Regex CommandPattern();

    /// <summary><paramref name="text"/> with the CLI's names replaced by the cmdlets'; names it does not know stay.</summary>
    public static string ForPowerShell(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = OptionPattern().Replace(text, m => Parameters.TryGetValue(m.Groups["name"].Value, out var parameter) ? "-" + parameter : m.Value);
        return CommandPattern().Replace(text, m => Commands.TryGetValue(m.Groups["name"].Value, out var command) ? command : m.Value);
    }
}
