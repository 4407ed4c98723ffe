using System.Xml.Linq;
using static DbSync.PowerShell.Tests.CmdletMetadata;

namespace DbSync.PowerShell.Tests;

/// <summary>The MAML help Get-Help reads: synopsis, description, every parameter and at least two examples per cmdlet.</summary>
public sealed class HelpTests
{
    private static readonly XNamespace _command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace _maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace _dev = "http://schemas.microsoft.com/maml/dev/2004/10";
    private static readonly XDocument _help = XDocument.Load(RepoFile("module", "en-US", "DbSync.PowerShell.dll-Help.xml"));

    public static TheoryData<string> Cmdlets() => new(CmdletMetadataTests.Expected.Keys);

    private static XElement Command(string name) =>
        _help.Descendants(_command + "command").Single(c => c.Element(_command + "details")!.Element(_command + "name")!.Value == name);

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Help_has_synopsis_description_every_parameter_and_two_examples(string cmdlet)
    {
        var command = Command(cmdlet);
        Assert.False(string.IsNullOrWhiteSpace(command.Element(_command + "details")!.Element(_maml + "description")!.Value));
        Assert.False(string.IsNullOrWhiteSpace(command.Element(_maml + "description")!.Value));

        var documented = command.Element(_command + "parameters")!.Elements(_command + "parameter")
            .ToDictionary(p => p.Element(_maml + "name")!.Value, p => p.Element(_maml + "description")!.Value);
        var type = CmdletTypes(ModuleAssembly).Single(t => CmdletName(t) == cmdlet);
        var expected = Parameters(type).Select(p => p.Name).ToList();
        if (Named<bool>(Attribute(type, "CmdletAttribute")!, "SupportsShouldProcess"))
        {
            expected.AddRange(["WhatIf", "Confirm"]);
        }

        Assert.Equal(expected.Order(), documented.Keys.Order());
        Assert.All(documented.Values, d => Assert.False(string.IsNullOrWhiteSpace(d)));

        var examples = command.Element(_command + "examples")!.Elements(_command + "example").ToList();
        Assert.True(examples.Count >= 2, $"{cmdlet} has {examples.Count} example(s)");
        Assert.All(examples, e => Assert.False(string.IsNullOrWhiteSpace(e.Element(_dev + "code")!.Value)));
    }

    [Theory]
    [InlineData("Get-DbSyncLog", "Since", "[DateTime]")]
    [InlineData("Get-DbSyncConflict", "Since", "[DateTime]")]
    [InlineData("Get-DbSyncLog", "Status", "A number (3, '3') or a comma-joined list")]
    [InlineData("Start-DbSync", "ConflictPolicy", "a number (1, '1') or a comma-joined list")]
    [InlineData("Get-DbSyncQuarantine", "ConflictPolicy", "a number or a list is refused")]
    public void Help_says_what_a_parameter_takes(string cmdlet, string parameter, string text)
    {
        var descriptions = Command(cmdlet).Descendants(_command + "parameter")
            .Where(p => p.Element(_maml + "name")!.Value == parameter)
            .Select(p => p.Element(_maml + "description")!.Value)
            .ToList();
        Assert.NotEmpty(descriptions);
        Assert.All(descriptions, d => Assert.Contains(text, d, StringComparison.Ordinal));
    }

    [Fact]
    public void Start_DbSync_help_shows_a_scheduled_job_and_a_splatted_settings_file()
    {
        var code = string.Join("\n", Command("Start-DbSync").Descendants(_dev + "code").Select(c => c.Value));
        Assert.Contains("Import-PowerShellDataFile", code, StringComparison.Ordinal);
        Assert.Contains("@settings", code, StringComparison.Ordinal);
        Assert.Contains("cron", code, StringComparison.Ordinal);
        Assert.Contains("New-ScheduledTaskAction", code, StringComparison.Ordinal);
        Assert.Contains("-ErrorAction Stop", code, StringComparison.Ordinal);
    }
}
