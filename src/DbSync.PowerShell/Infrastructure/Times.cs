namespace DbSync.PowerShell.Infrastructure;

/// <summary>Date parameters as Core takes them.</summary>
internal static class Times
{
    /// <summary>A -Since as UTC: a local time (Get-Date) is converted; a date without a kind is UTC, as in the CLI.</summary>
    public static DateTime ToUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Local => value.ToUniversalTime(),
        DateTimeKind.Unspecified => DateTime.SpecifyKind(value, DateTimeKind.Utc),
        _ => value,
    };
}
