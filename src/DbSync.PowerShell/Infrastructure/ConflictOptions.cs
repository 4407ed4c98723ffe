using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>The -ConflictPolicy and -NewestColumn rules Start-DbSync and Get-DbSyncQuarantine -Retry share with the CLI.</summary>
internal static class ConflictOptions
{
    /// <summary>The usage error for a combination the engine cannot use, or null when it is fine.</summary>
    public static string? Check(ConflictPolicy policy, string? newestColumn) =>
        policy == ConflictPolicy.Newest && newestColumn is null ? "-ConflictPolicy Newest needs -NewestColumn (the column that says which version is newer)."
        : policy != ConflictPolicy.Newest && newestColumn is not null ? "-NewestColumn goes with -ConflictPolicy Newest."
        : null;
}
