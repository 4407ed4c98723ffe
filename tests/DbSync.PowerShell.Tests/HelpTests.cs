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
    [InlineData("Start-DbSync", "LogPath", "The database itself is refused (DbSync.UsageError")]
    [InlineData("Start-DbSync", "LogPath", "is never written, read or pruned")]
    [InlineData("Start-DbSync", "LogPath", "symbolic links resolved")]
    [InlineData("Start-DbSync", "Schema", "a value holding Password= or Pwd=")]
    [InlineData("Start-DbSync", "Schema", "with -PreserveCase, when no schema has that name but exactly one has it in another case")]
    [InlineData("Get-DbSyncStatus", "Detailed", "DbSync.SchemaChanged")]
    [InlineData("Get-DbSyncStatus", "Detailed", "dropped or renamed in SQLite")]
    [InlineData("Restore-DbSyncLog", "BackupPath", "DbSync.LogBackupUnreadable")]
    [InlineData("Restore-DbSyncLog", "BackupPath", "is a SQLite database or journal")]
    public void Help_says_what_a_parameter_takes(string cmdlet, string parameter, string text)
    {
        var descriptions = Command(cmdlet).Descendants(_command + "parameter")
            .Where(p => p.Element(_maml + "name")!.Value == parameter)
            .Select(p => p.Element(_maml + "description")!.Value)
            .ToList();
        Assert.NotEmpty(descriptions);
        Assert.All(descriptions, d => Assert.Contains(text, d, StringComparison.Ordinal));
    }

    private static readonly string _about = File.ReadAllText(RepoFile("module", "en-US", "about_DbSync.help.txt"));

    /// <summary>A job run by pwsh -File exits 0 after non-terminating errors: the topic shows how to make it fail.</summary>
    [Fact]
    public void About_topic_shows_a_scheduled_job_that_exits_non_zero_and_the_RowsHeld_trade_off()
    {
        var jobs = Section(_about, "SCHEDULED JOBS");
        Assert.Contains("pwsh -File", jobs, StringComparison.Ordinal);
        Assert.Contains("exits with code 0", jobs, StringComparison.Ordinal);
        Assert.Contains("$ErrorActionPreference = 'Stop'", jobs, StringComparison.Ordinal);
        Assert.Contains("foreach ($file in Get-ChildItem", jobs, StringComparison.Ordinal);
        Assert.Contains("catch {", jobs, StringComparison.Ordinal);
        Assert.Contains("exit 1", jobs, StringComparison.Ordinal);
        Assert.Contains("DbSync.RowsHeld", jobs, StringComparison.Ordinal);
        Assert.Contains("trade-off", jobs, StringComparison.Ordinal);
    }

    [Fact]
    public void About_topic_lists_every_error_id()
    {
        var section = Section(_about, "ERROR IDS");
        var ids = typeof(DbSync.Core.ErrorIds).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();
        Assert.True(ids.Count > 30);
        Assert.All(ids, id => Assert.Matches($@"(?m)^\s+{System.Text.RegularExpressions.Regex.Escape(id)}\s", section));
    }

    [Theory]
    [InlineData("Duration, a TimeSpan, for durationMs")]
    [InlineData("Lag, a TimeSpan, for lagSeconds")]
    [InlineData("restoredRunIds")]
    [InlineData("$_.Exception.RunId")]
    [InlineData("ReadFrom, the file whose log it was read from")]
    [InlineData("The text in the objects is Core's, worded as the CLI's --json has it")]
    public void About_topic_names_where_output_properties_differ_from_the_CLIs_JSON(string text) =>
        Assert.Contains(text, Section(_about, "OUTPUT OBJECTS"), StringComparison.Ordinal);

    /// <summary>An about topic's section: from its heading (a line of capitals at the margin) to the next.</summary>
    private static string Section(string topic, string heading)
    {
        var match = System.Text.RegularExpressions.Regex.Match(topic, $@"(?ms)^{heading}\r?\n(.*?)(?=^[A-Z][A-Z ']+\r?$|\z)");
        Assert.True(match.Success, $"about_DbSync has no {heading} section");
        return match.Groups[1].Value;
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
