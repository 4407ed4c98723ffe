using System.Management.Automation;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// Binds an enum parameter by member name only, case-insensitively, as the CLI parses <c>--conflict-policy</c> and
/// <c>--status</c>. PowerShell's own conversion also takes a number (<c>-ConflictPolicy 1</c> or <c>'1'</c> is
/// TargetWins) and a comma-joined list (<c>'SourceWins,TargetWins'</c> is the bitwise OR of the two, TargetWins;
/// <c>-Status 'Failed,Succeeded'</c> is Cancelled), so a job ran with a value nobody named. Anything but one name, or a
/// defined value of the enum itself (alone or as the one item of an array), is refused with an error that names the
/// parameter and its values.
/// </summary>
/// <remarks>The enum type is only read when an argument is bound, after the module's load context is in place, as the
/// parameter's own type is.</remarks>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class StrictEnumAttribute : ArgumentTransformationAttribute
{
    /// <summary>An enum parameter of <paramref name="enumType"/> named <paramref name="parameter"/> (for its messages).</summary>
    public StrictEnumAttribute(Type enumType, string parameter)
    {
        EnumType = enumType;
        Parameter = parameter;
    }

    /// <summary>The parameter's enum type.</summary>
    public Type EnumType { get; }

    /// <summary>The parameter's name, without the dash.</summary>
    public string Parameter { get; }

    /// <inheritdoc />
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData) =>
        StrictEnum.Parse(EnumType, Parameter, inputData is PSObject wrapped ? wrapped.BaseObject : inputData, out var error)
        ?? throw new ArgumentTransformationMetadataException(error);
}

/// <summary>The rule of <see cref="StrictEnumAttribute"/>, apart from PowerShell's binding.</summary>
internal static class StrictEnum
{
    /// <summary>
    /// The member of <paramref name="enumType"/> that <paramref name="input"/> names (a string equal to a member's name,
    /// ignoring case, or a defined value of the enum itself), else null with <paramref name="error"/> saying why.
    /// </summary>
    public static object? Parse(Type enumType, string parameter, object? input, out string error)
    {
        error = "";
        if (input is not null && input.GetType() == enumType && Enum.IsDefined(enumType, input))
        {
            return input;
        }

        // A one-item array is its item, as PowerShell binds one to any scalar parameter (-Status @('Failed'),
        // -ConflictPolicy $policies[0..0], a value from a splatted hashtable built as a list).
        if (input is object?[] { Length: 1 } single)
        {
            return Parse(enumType, parameter, single[0] is PSObject wrapped ? wrapped.BaseObject : single[0], out error);
        }

        var names = Enum.GetNames(enumType);
        if (input is string text && names.FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase)) is { } name)
        {
            return Enum.Parse(enumType, name);
        }

        var shown = input switch
        {
            null => "$null",
            string s => $"'{s}'",
            System.Collections.IEnumerable list => $"a list ({string.Join(", ", list.Cast<object?>().Select(o => o?.ToString()))})",
            _ => $"{input} (of type {input.GetType().Name})",
        };
        error = $"-{parameter} takes exactly one of {string.Join(", ", names)}, by name (any case); not {shown}. Numbers and comma-joined lists are refused, as by the dbsync CLI.";
        return null;
    }
}
