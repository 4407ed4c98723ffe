using System.Management.Automation;

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

    /// <summary>
    /// A [DateTimeOffset] given for a [DateTime] parameter as the UTC instant it names; anything else unchanged, for
    /// PowerShell's own conversion.
    /// </summary>
    public static object FromOffset(object input) =>
        (input is PSObject wrapped ? wrapped.BaseObject : input) is DateTimeOffset offset ? offset.UtcDateTime : input;
}

/// <summary>
/// Lets a [DateTime] parameter take a [DateTimeOffset] (<c>[DateTimeOffset]::Now</c>, a value read from JSON or a
/// database), as its UTC instant: PowerShell itself refuses one ("Cannot convert ... to type System.DateTime").
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class DateTimeOffsetAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc />
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData) => Times.FromOffset(inputData);
}
