using System.Management.Automation;
using System.Net;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>A DbSync cmdlet that talks to PostgreSQL: -ConnectionString and -Credential, as Start-DbSync,
/// Get-DbSyncStatus and Test-DbSyncConnection take them.</summary>
public abstract class DbSyncTargetCommand : DbSyncFileCommand
{
    /// <summary>Npgsql connection string; default DBSYNC_CONNECTION (an empty or blank value of either counts as not given). A password in it is never shown.</summary>
    [Parameter(Position = 1)]
    public string? ConnectionString { get; set; }

    /// <summary>User name and password for PostgreSQL; override those of the connection string.</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>-ConnectionString, else DBSYNC_CONNECTION, else null.</summary>
    internal string? EffectiveConnectionString => Connection.FromParameterOrEnvironment(ConnectionString);

    /// <summary>-Credential as the user name and password Core applies over the connection string's.</summary>
    internal NetworkCredential? EffectiveCredential => Connection.ToNetworkCredential(Credential);

    /// <summary>
    /// -Credential only overrides a connection string's user and password: without a connection string it would be
    /// ignored, and a status or test would skip the target without a word, so it is a usage error.
    /// </summary>
    protected override void BeginProcessing()
    {
        if (Credential is not null && EffectiveConnectionString is null)
        {
            ThrowTerminatingError(Errors.Usage("-Credential needs -ConnectionString or DBSYNC_CONNECTION: it only sets the user name and password of a connection string.", null));
        }

        base.BeginProcessing();
    }
}
