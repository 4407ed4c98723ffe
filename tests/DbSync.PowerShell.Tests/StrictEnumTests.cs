using System.Reflection;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.PowerShell.Infrastructure;
using static DbSync.PowerShell.Tests.CmdletMetadata;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// Enum parameters bind by member name only, as the CLI's --conflict-policy and --status: PowerShell's own conversion
/// took numbers ('1' is TargetWins) and comma-joined lists (their bitwise OR) as some other value.
/// </summary>
public sealed class StrictEnumTests
{
    [Theory]
    [InlineData("SourceWins", ConflictPolicy.SourceWins)]
    [InlineData("targetwins", ConflictPolicy.TargetWins)]
    [InlineData("NEWEST", ConflictPolicy.Newest)]
    [InlineData("Fail", ConflictPolicy.Fail)]
    public void ConflictPolicy_takes_a_name_in_any_case(string name, ConflictPolicy expected) =>
        Assert.Equal(expected, StrictEnum.Parse(typeof(ConflictPolicy), "ConflictPolicy", name, out _));

    [Fact]
    public void A_defined_value_of_the_enum_itself_is_taken()
    {
        Assert.Equal(ConflictPolicy.Newest, StrictEnum.Parse(typeof(ConflictPolicy), "ConflictPolicy", ConflictPolicy.Newest, out _));
        // -Status (Get-DbSyncLog ...).Status: a RunStatus binds as itself.
        Assert.Equal(RunStatus.Abandoned, StrictEnum.Parse(typeof(RunStatus), "Status", RunStatus.Abandoned, out _));
    }

    [Fact]
    public void A_one_item_array_is_its_item_as_powershell_binds_scalars()
    {
        // -Status @('Failed') was refused as "a list (Failed)".
        Assert.Equal(RunStatus.Failed, StrictEnum.Parse(typeof(RunStatus), "Status", new object[] { "failed" }, out _));
        Assert.Equal(ConflictPolicy.TargetWins, StrictEnum.Parse(typeof(ConflictPolicy), "ConflictPolicy", new object[] { ConflictPolicy.TargetWins }, out _));
        Assert.Null(StrictEnum.Parse(typeof(RunStatus), "Status", new object[] { "2" }, out var error));
        Assert.Contains("not '2'", error, StringComparison.Ordinal);
        Assert.Null(StrictEnum.Parse(typeof(RunStatus), "Status", new object[] { new object[] { "Failed", "Cancelled" } }, out _));
    }

    public static TheoryData<object?> Refused() => new()
    {
        1, "1", 7, "5", 0L, 1.0, "0x1", "SourceWins,TargetWins", "SourceWins, TargetWins", " Fail ", "", "Sometimes", null,
        new object[] { "SourceWins", "TargetWins" }, (ConflictPolicy)7, RunStatus.Failed,
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void ConflictPolicy_refuses_numbers_lists_and_anything_else_naming_the_parameter_and_its_values(object? input)
    {
        Assert.Null(StrictEnum.Parse(typeof(ConflictPolicy), "ConflictPolicy", input, out var error));
        Assert.StartsWith("-ConflictPolicy takes exactly one of SourceWins, TargetWins, Newest, Fail, by name", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2)]
    [InlineData("2")]
    [InlineData("Failed,Succeeded")]
    [InlineData("Failed,Cancelled")]
    public void Status_refuses_numbers_and_lists(object input)
    {
        Assert.Null(StrictEnum.Parse(typeof(RunStatus), "Status", input, out var error));
        Assert.Contains("-Status takes exactly one of Running, Succeeded, PartiallySucceeded, Failed, Cancelled, Abandoned", error, StringComparison.Ordinal);
        Assert.Contains(input is string ? $"'{input}'" : $"{input} (of type Int32)", error, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Cancelled, StrictEnum.Parse(typeof(RunStatus), "Status", "cancelled", out _));
    }

    /// <summary>Every enum parameter of every cmdlet, now and later, carries the rule for its own type and name.</summary>
    [Fact]
    public void Every_enum_parameter_binds_by_name_only()
    {
        var enumParameters = CmdletTypes(ModuleAssembly).SelectMany(Parameters).Where(p => p.PropertyType.IsEnum).ToList();
        Assert.Equal(["ConflictPolicy", "ConflictPolicy", "Status"], enumParameters.Select(p => p.Name).Order());
        Assert.All(enumParameters, p =>
        {
            var strict = Attribute(p, nameof(StrictEnumAttribute));
            Assert.True(strict is not null, $"{p.DeclaringType!.Name}.{p.Name} has no [StrictEnum]");
            Assert.Equal(p.PropertyType, strict.ConstructorArguments[0].Value);
            Assert.Equal(p.Name, strict.ConstructorArguments[1].Value);
        });
    }
}
