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
    [InlineData("Run 'dbsync reset-node --path <this file> --connection ...' (Reset-DbSyncNode) to give it an identity of its own, then 'dbsync sync --resync' to make PostgreSQL match it.",
        "Run Reset-DbSyncNode -Path <this file> -ConnectionString ... to give it an identity of its own, then Start-DbSync -Resync to make PostgreSQL match it.")]
    [InlineData("the backup '/data/--force/x.jsonl' is a folder (--log-path or -LogPath names the file)",
        "the backup '/data/--force/x.jsonl' is a folder (-LogPath names the file)")]
    public void Cli_names_in_DbSyncs_wording_become_cmdlet_names_around_quoted_data(string core, string shown) => Assert.Equal(shown, Wording.ForPowerShell(core));

    /// <summary>Core's messages that name the cmdlet or parameter beside the CLI's name say it once in PowerShell.</summary>
    [Theory]
    [InlineData("Run 'dbsync reset-node --path <the copy> --connection ...' (Reset-DbSyncNode) on the copy to give it an identity of its own.",
        "Run Reset-DbSyncNode -Path <the copy> -ConnectionString ... on the copy to give it an identity of its own.")]
    [InlineData("otherwise run 'dbsync reset-node --path \"/data/shop.sqlite\" --connection ...' (Reset-DbSyncNode) to give this file an identity of its own, then 'dbsync sync --resync' to make PostgreSQL match it.",
        "otherwise run Reset-DbSyncNode -Path \"/data/shop.sqlite\" -ConnectionString ... to give this file an identity of its own, then Start-DbSync -Resync to make PostgreSQL match it.")]
    [InlineData("PostgreSQL at db:5432/x as u denied a permission DbSync needs: permission denied for schema s. 'dbsync test' (Test-DbSyncConnection) names each missing grant.",
        "PostgreSQL at db:5432/x as u denied a permission DbSync needs: permission denied for schema s. Test-DbSyncConnection names each missing grant.")]
    [InlineData("the backup '/b' could not be written: it is a folder, and the backup is a file (--log-path or -LogPath names the file)",
        "the backup '/b' could not be written: it is a folder, and the backup is a file (-LogPath names the file)")]
    [InlineData("The schema name 'Host=h;Password=***' holds a password: it looks like a connection string, which goes in --connection (-ConnectionString).",
        "The schema name 'Host=h;Password=***' holds a password: it looks like a connection string, which goes in -ConnectionString.")]
    public void A_cmdlet_or_parameter_is_named_once(string core, string shown)
    {
        Assert.Equal(shown, Wording.ForPowerShell(core));
        Assert.DoesNotMatch(@"(?<![\w-])([\w-]{3,})\s+(?:\(|or )\1(?![\w-])", Wording.ForPowerShell(core));
    }

    [Theory]
    [InlineData("see Get-DbSyncLog (Get-DbSyncStatus shows the last run); -Schema or -Table; -Force or -Forced")]
    public void Different_names_side_by_side_stay(string text) => Assert.Equal(text, Wording.ForPowerShell(text));

    /// <summary>Held values, keys, names and PostgreSQL's text that look like the CLI's names are shown as stored.</summary>
    [Theory]
    [InlineData("Table 'Track', column 'Milliseconds', row (TrackId=5): the text '--force' is not an integer. The row is held back until the value or the column type is fixed.")]
    [InlineData("Table 'Track', column 'Milliseconds', row (TrackId=6): the text 'see dbsync log' is not an integer. The row is held back until the value or the column type is fixed.")]
    [InlineData("Table 'Note', column 'Body', row (Id=2): the text 'don't use --force; see dbsync conflicts' is not an integer.")]
    [InlineData("Table 'Tag', column 'Id', row (Name=--force): PostgreSQL rejected the row: 22P02: invalid input syntax for type integer: \"--table\"")]
    [InlineData("PostgreSQL rejected the row: 23503: insert or update violates foreign key constraint. Key (code)=(--schema) is not present in table \"dbsync log\".")]
    [InlineData("--node-partitioned 'dbsync log*' matches no synced table. Tables: Genre.", "-NodePartitioned 'dbsync log*' matches no synced table. Tables: Genre.")]
    public void Data_quoted_in_a_message_stays_as_stored(string core, string? shown = null) => Assert.Equal(shown ?? core, Wording.ForPowerShell(core));

    [Fact]
    public void Only_DbSyncs_wording_is_rewritten_when_data_and_wording_share_a_message() => Assert.Equal(
        "The text '--force' is held; 1 changed row(s) are not yet in PostgreSQL: Genre (1). Sync first, or use -Force to discard them (see Get-DbSyncConflict).",
        Wording.ForPowerShell("The text '--force' is held; 1 changed row(s) are not yet in PostgreSQL: Genre (1). Sync first, or use --force to discard them (see dbsync conflicts)."));

    [Theory]
    [InlineData("a value --unknown-option stays, as does a--force inside a word and dbsync.conflicts, a table")]
    [InlineData("PostgreSQL said: -- a SQL comment")]
    public void What_is_not_a_known_CLI_name_stays(string text) => Assert.Equal(text, Wording.ForPowerShell(text));
}
