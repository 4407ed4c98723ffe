using System.Management.Automation;
using System.Net;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>Maps the cmdlets' connection parameters onto Core's.</summary>
internal static class Connection
{
    /// <summary>The environment variable the CLI falls back to when no connection string is given (docs/cli.md).</summary>
    public const string EnvironmentVariable = "DBSYNC_CONNECTION";

    /// <summary>The -Credential as the user name and password that override the connection string's; null when none.</summary>
    public static NetworkCredential? ToNetworkCredential(PSCredential? credential) =>
        credential is null || ReferenceEquals(credential, PSCredential.Empty) ? null : credential.GetNetworkCredential();

    /// <summary>
    /// The -ConnectionString, else DBSYNC_CONNECTION, else null. A blank value of either counts as unset, as the CLI
    /// treats <c>--connection ""</c> and the variable: <c>-ConnectionString $env:OVERRIDE</c> with the override unset
    /// or blank does not hide DBSYNC_CONNECTION, and a blank variable (<c>Environment=DBSYNC_CONNECTION=</c> in a
    /// systemd unit) is no connection string, so a status does not check a target and a sync fails with
    /// DbSync.ConnectionMissing.
    /// </summary>
    public static string? FromParameterOrEnvironment(string? connectionString) =>
        NullIfBlank(connectionString) ?? EnvironmentSetting(EnvironmentVariable);

    /// <summary>An environment variable's value, or null when it is unset, empty or only white space.</summary>
    public static string? EnvironmentSetting(string variable) => NullIfBlank(Environment.GetEnvironmentVariable(variable));

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
