using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Tests;

/// <summary>Core's messages, shown by a cmdlet, name the cmdlets' parameters and commands instead of the CLI's.</summary>
public sealed class WordingTests
{
    [Theory]
    [InlineData("1 changed row(s) are not yet in PostgreSQL: Genre (1). Sync first, or use --force to discard them.",
        "1 changed row(s) are not yet in PostgreSQL: Genre (1). Sync first, or use -Force to discard them.")]
    [InlineData("--node 'x' is not a node id (a GUID, as status and the run log show it).",
        "-NodeId 'x' is not a node id (a GUID, as status and the run log show it).")]
    [InlineData("No PostgreSQL connection string was given (--connection or DBSYNC_CONNECTION).",
        "No PostgreSQL connection string was given (-ConnectionString or DBSYNC_CONNECTION).")]
    [InlineData("change the target, then run with --resync for this table (--table Employee).",
        "change the target, then run with -Resync for this table (-Table Employee).")]
    [InlineData("the Fail policy leaves it pending (see dbsync conflicts)", "the Fail policy leaves it pending (see Get-DbSyncConflict)")]
    [InlineData("from which 'dbsync restore-log' brings it back", "from which Restore-DbSyncLog brings it back")]
    [InlineData("DbSync waits up to 30 s (--busy-timeout) for locks", "DbSync waits up to 30 s (-BusyTimeout) for locks")]
    public void Cli_names_become_cmdlet_names(string core, string shown) => Assert.Equal(shown, Wording.ForPowerShell(core));

    [Theory]
    [InlineData("a value --unknown-option stays, as does a--force inside a word and dbsync.conflicts, a table")]
    [InlineData("PostgreSQL said: -- a SQL comment")]
    public void What_is_not_a_known_CLI_name_stays(string text) => Assert.Equal(text, Wording.ForPowerShell(text));
}
