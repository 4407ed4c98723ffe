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

    /// <summary>The -ConnectionString, else DBSYNC_CONNECTION, else null.</summary>
    public static string? FromParameterOrEnvironment(string? connectionString) =>
        string.IsNullOrEmpty(connectionString) ? NullIfEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable)) : connectionString;

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
