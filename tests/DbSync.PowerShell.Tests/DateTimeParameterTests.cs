using DbSync.PowerShell.Infrastructure;
using static DbSync.PowerShell.Tests.CmdletMetadata;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// A [DateTime] parameter (-Since) takes a [DateTimeOffset] as its UTC instant: PowerShell refused one ("Cannot convert
/// ... to type System.DateTime"), though it is what [DateTimeOffset]::Now, JSON and databases give (module exploration F14).
/// </summary>
public sealed class DateTimeParameterTests
{
    [Fact]
    public void A_DateTimeOffset_becomes_its_UTC_instant()
    {
        var given = new DateTimeOffset(2026, 12, 1, 10, 30, 0, TimeSpan.FromHours(5));
        var converted = Assert.IsType<DateTime>(Times.FromOffset(given));
        Assert.Equal(new DateTime(2026, 12, 1, 5, 30, 0, DateTimeKind.Utc), converted);
        Assert.Equal(DateTimeKind.Utc, converted.Kind);
    }

    [Fact]
    public void Anything_else_is_left_to_PowerShell()
    {
        var date = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Local);
        Assert.Equal(date, Times.FromOffset(date));
        Assert.Equal("2020-12-01", Times.FromOffset("2020-12-01"));
    }

    [Fact]
    public void Every_DateTime_parameter_takes_a_DateTimeOffset()
    {
        var dates = CmdletTypes(ModuleAssembly).SelectMany(Parameters)
            .Where(p => p.PropertyType == typeof(DateTime) || p.PropertyType == typeof(DateTime?)).ToList();
        Assert.Equal(["Since", "Since"], dates.Select(p => p.Name).Order());
        Assert.All(dates, p => Assert.True(Attribute(p, nameof(DateTimeOffsetAttribute)) is not null,
            $"{p.DeclaringType!.Name}.{p.Name} has no [DateTimeOffset]"));
    }
}
