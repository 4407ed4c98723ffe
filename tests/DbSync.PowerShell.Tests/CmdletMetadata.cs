using System.Management.Automation;
using System.Reflection;
using System.Text.RegularExpressions;
using DbSync.PowerShell.Commands;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// Reads cmdlet metadata as PowerShell would see it, from attribute metadata (CustomAttributeData): the attribute
/// classes of the reference library are stubs whose properties read back as defaults.
/// </summary>
internal static partial class CmdletMetadata
{
    public static Assembly ModuleAssembly => typeof(StartDbSyncCommand).Assembly;

    public static IReadOnlyList<Type> CmdletTypes(Assembly assembly) =>
        assembly.GetTypes().Where(t => Attribute(t, "CmdletAttribute") is not null).OrderBy(t => t.Name).ToList();

    public static CustomAttributeData? Attribute(MemberInfo member, string name) =>
        member.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.Name == name);

    public static IEnumerable<CustomAttributeData> Attributes(MemberInfo member, string name) =>
        member.GetCustomAttributesData().Where(a => a.AttributeType.Name == name);

    public static T? Named<T>(CustomAttributeData attribute, string name) =>
        attribute.NamedArguments.Where(a => a.MemberName == name).Select(a => (T?)a.TypedValue.Value).FirstOrDefault();

    /// <summary>Verb-Noun from [Cmdlet(verb, noun)].</summary>
    public static string CmdletName(Type type)
    {
        var cmdlet = Attribute(type, "CmdletAttribute")!;
        return $"{cmdlet.ConstructorArguments[0].Value}-{cmdlet.ConstructorArguments[1].Value}";
    }

    /// <summary>Properties with at least one [Parameter], except hidden ones (DontShow: -ReadFrom, bound from piped run log entries).</summary>
    public static IReadOnlyList<PropertyInfo> Parameters(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => Attribute(p, "ParameterAttribute") is { } parameter && !Named<bool>(parameter, "DontShow")).ToList();

    /// <summary>Every approved verb: the constants of the Verbs* classes.</summary>
    public static IReadOnlySet<string> ApprovedVerbs { get; } = typeof(VerbsCommon).Assembly.GetTypes()
        .Where(t => t.Namespace == "System.Management.Automation" && t.Name.StartsWith("Verbs", StringComparison.Ordinal))
        .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>CmdletsToExport of a manifest.</summary>
    public static IReadOnlyList<string> ManifestCmdlets(string manifestText)
    {
        var block = ExportBlock().Match(manifestText);
        Assert.True(block.Success, "CmdletsToExport = @(...) not found in the manifest");
        return Quoted().Matches(block.Groups[1].Value).Select(m => m.Groups[1].Value).ToList();
    }

    /// <summary>A scalar 'value' of a manifest key.</summary>
    public static string? ManifestValue(string manifestText, string key) =>
        new Regex($@"^\s*{key}\s*=\s*'([^']*)'", RegexOptions.Multiline).Match(manifestText) is { Success: true } m ? m.Groups[1].Value : null;

    public static string RepoFile(params string[] parts) => Path.Combine([DbSync.Tests.Infrastructure.TestServer.RepoRoot, .. parts]);

    [GeneratedRegex(@"CmdletsToExport\s*=\s*@\(([^)]*)\)")]
    private static partial Regex ExportBlock();

    [GeneratedRegex(@"'([^']+)'")]
    private static partial Regex Quoted();
}
