using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using DbSync.Core;
using DbSync.Tests.Infrastructure;
using static DbSync.PowerShell.Tests.CmdletMetadata;

namespace DbSync.PowerShell.Tests;

/// <summary>The folder the dotnet-only assembly step produces: what Import-Module and the Gallery will see.</summary>
[Collection(AssembledModuleCollection.Name)]
public sealed class ModulePackagingTests(AssembledModule module)
{
    private string Manifest => File.ReadAllText(Path.Combine(module.ModuleDirectory, "DbSync.psd1"));

    [Fact]
    public void Manifest_has_the_required_fields_and_the_version_from_Directory_Build_props()
    {
        var props = XDocument.Load(Path.Combine(TestServer.RepoRoot, "Directory.Build.props"));
        var versionPrefix = props.Descendants("VersionPrefix").Single().Value;
        Assert.Equal(versionPrefix, ManifestValue(Manifest, "ModuleVersion"));
        Assert.Equal("DbSync.PowerShell.dll", ManifestValue(Manifest, "RootModule"));
        Assert.Equal("7.4", ManifestValue(Manifest, "PowerShellVersion"));
        Assert.Matches(@"CompatiblePSEditions\s*=\s*@\('Core'\)", Manifest);
        Assert.Matches(@"FunctionsToExport\s*=\s*@\(\)", Manifest);
        Assert.Matches(@"VariablesToExport\s*=\s*@\(\)", Manifest);
        Assert.Matches(@"AliasesToExport\s*=\s*@\(\)", Manifest);
        Assert.Matches(@"FormatsToProcess\s*=\s*@\('DbSync.format.ps1xml'\)", Manifest);
        Assert.Matches(@"TypesToProcess\s*=\s*@\('DbSync.types.ps1xml'\)", Manifest);
        Assert.DoesNotMatch(@"CmdletsToExport\s*=\s*'\*'", Manifest);
        Assert.DoesNotMatch(@"ScriptsToProcess|RequiredAssemblies", Manifest);
    }

    [Fact]
    public void Every_exported_cmdlet_is_a_class_in_the_assembled_assembly()
    {
        // Inspect the assembled dll itself, in a throwaway load context (System.Management.Automation and Core
        // fall back to this test's copies).
        var context = new AssemblyLoadContext("inspect-assembled-module", isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(Path.Combine(module.ModuleDirectory, "DbSync.PowerShell.dll"));
            var cmdlets = CmdletTypes(assembly).Select(CmdletName).Order().ToList();
            Assert.Equal(CmdletMetadataTests.Expected.Keys.Order(), cmdlets);
            Assert.Equal(cmdlets, ManifestCmdlets(Manifest).Order());
            Assert.Equal(typeof(SyncEngine).Assembly.GetName().Version, assembly.GetName().Version);
        }
        finally
        {
            context.Unload();
        }
    }

    [Theory]
    [InlineData("win-x64", "e_sqlite3.dll", new byte[] { 0x4D, 0x5A })] // PE: "MZ"
    [InlineData("linux-x64", "libe_sqlite3.so", new byte[] { 0x7F, 0x45, 0x4C, 0x46 })] // ELF
    [InlineData("osx-x64", "libe_sqlite3.dylib", new byte[] { 0xCF, 0xFA, 0xED, 0xFE })] // Mach-O 64-bit
    [InlineData("osx-arm64", "libe_sqlite3.dylib", new byte[] { 0xCF, 0xFA, 0xED, 0xFE })]
    public void SQLite_native_library_ships_for_each_platform(string rid, string file, byte[] magic)
    {
        var path = Path.Combine(module.ModuleDirectory, "dependencies", "runtimes", rid, "native", file);
        Assert.True(File.Exists(path), $"{path} is missing");
        var header = new byte[magic.Length];
        using (var stream = File.OpenRead(path))
        {
            stream.ReadExactly(header);
        }

        Assert.Equal(magic, header);
        Assert.True(new FileInfo(path).Length > 500_000, $"{path} is too small to be SQLite");
    }

    [Fact]
    public void Only_the_cmdlet_assembly_is_at_the_root_and_every_dependency_is_isolated()
    {
        var root = Directory.GetFiles(module.ModuleDirectory, "*.dll").Select(Path.GetFileName).ToList();
        Assert.Equal(["DbSync.PowerShell.dll"], root);
        var dependencies = Path.Combine(module.ModuleDirectory, "dependencies");
        foreach (var name in new[] { "DbSync.Core.dll", "Npgsql.dll", "Microsoft.Data.Sqlite.dll", "SQLitePCLRaw.core.dll", "System.Diagnostics.DiagnosticSource.dll" })
        {
            Assert.True(File.Exists(Path.Combine(dependencies, name)), $"dependencies/{name} is missing");
        }

        Assert.Empty(Directory.GetFiles(module.ModuleDirectory, "System.Management.Automation.dll", SearchOption.AllDirectories));
        // The documents the help points to ship with the module.
        foreach (var document in new[] { "cli.md", "capture.md", "type-mapping.md" })
        {
            Assert.True(File.Exists(Path.Combine(module.ModuleDirectory, "docs", document)), $"docs/{document} is missing");
        }
        // Npgsql 10 on .NET 8 needs DiagnosticSource 9 or later; PowerShell 7.4 has 8.0. The module must bring its own.
        var diagnosticSource = AssemblyName.GetAssemblyName(Path.Combine(dependencies, "System.Diagnostics.DiagnosticSource.dll"));
        Assert.True(diagnosticSource.Version >= new Version(9, 0), $"DiagnosticSource {diagnosticSource.Version}");
    }

    [Fact]
    public void Format_file_and_help_are_in_the_module()
    {
        var format = XDocument.Load(Path.Combine(module.ModuleDirectory, "DbSync.format.ps1xml"));
        var typeNames = format.Descendants("TypeName").Select(t => t.Value).ToList();
        Assert.NotEmpty(typeNames);
        foreach (var typeName in typeNames)
        {
            // A view for the type as one cmdlet emits it ("DatabaseStatus#Detailed") is for that Core type too.
            var type = typeof(SyncEngine).Assembly.GetType(typeName.Split('#')[0]);
            Assert.True(type is { IsPublic: true, IsSealed: true }, $"format view for {typeName}: no such public sealed type");
        }

        foreach (var output in new[] { "SyncResult", "CaptureResult", "RunLogEntry", "RestoreLogResult", "DatabaseStatus", "TableStatus", "CheckResult", "ConflictRecord", "QuarantinedRow", "ResetNodeResult" })
        {
            Assert.Contains(typeNames, t => t.EndsWith("." + output, StringComparison.Ordinal));
        }

        var help = Path.Combine(module.ModuleDirectory, "en-US", "DbSync.PowerShell.dll-Help.xml");
        Assert.True(File.Exists(help));
        Assert.Equal(CmdletMetadataTests.Expected.Count, Regex.Matches(File.ReadAllText(help), "<command:command ").Count);

        // The conceptual topic (Get-Help about_DbSync) names every cmdlet.
        var about = File.ReadAllText(Path.Combine(module.ModuleDirectory, "en-US", "about_DbSync.help.txt"));
        Assert.StartsWith("TOPIC", about, StringComparison.Ordinal);
        Assert.All(CmdletMetadataTests.Expected.Keys, cmdlet => Assert.Contains(cmdlet, about, StringComparison.Ordinal));
    }

    /// <summary>
    /// An output object that holds objects (a result's Tables, a status's LastRun) declares how deep a job, remoting or
    /// Export-Clixml serializes it: they stop at depth 1 otherwise, and a SyncResult received from Start-Job had its
    /// Tables as strings.
    /// </summary>
    [Fact]
    public void Output_objects_that_hold_objects_declare_their_serialization_depth()
    {
        var types = XDocument.Load(Path.Combine(module.ModuleDirectory, "DbSync.types.ps1xml"));
        var declared = types.Descendants("Type").ToDictionary(
            t => t.Element("Name")!.Value,
            t => (int?)t.Descendants("NoteProperty").SingleOrDefault(n => n.Element("Name")?.Value == "SerializationDepth")?.Element("Value"));
        var outputs = new[] { "SyncResult", "CaptureResult", "Bookkeeping.RunLogEntry", "Bookkeeping.RestoreLogResult", "Diagnostics.DatabaseStatus", "Diagnostics.TableStatus", "Diagnostics.CheckResult", "ConflictRecord", "QuarantinedRow", "ResetNodeResult" };
        foreach (var name in outputs.Select(n => "DbSync.Core." + n))
        {
            var needed = DepthNeeded(typeof(SyncEngine).Assembly.GetType(name, throwOnError: true)!);
            if (needed > 1)
            {
                Assert.True(declared.TryGetValue(name, out var depth) && depth >= needed, $"{name} needs SerializationDepth {needed} in DbSync.types.ps1xml");
            }
        }
    }

    /// <summary>The serialization depth at which every property of <paramref name="type"/>, nested ones too, keeps its values: 0 for a value PowerShell serializes as such.</summary>
    private static int DepthNeeded(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(DateTime)
            || type == typeof(DateTimeOffset) || type == typeof(TimeSpan) || type == typeof(Guid))
        {
            return 0;
        }

        if (type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)) is { } enumerable)
        {
            // A collection's elements are serialized at the collection property's own level.
            return DepthNeeded(enumerable.GetGenericArguments()[0]);
        }

        return 1 + type.GetProperties().Select(p => DepthNeeded(p.PropertyType)).DefaultIfEmpty(0).Max();
    }

    /// <summary>
    /// Every table view fits an 80-column console (79 usable): its fixed widths and the spaces between columns leave its
    /// last column, the only one without a width, at least 10 characters, so that no header is printed one letter per
    /// line and no column is dropped.
    /// </summary>
    [Fact]
    public void Every_table_view_fits_an_80_column_console()
    {
        var format = XDocument.Load(Path.Combine(module.ModuleDirectory, "DbSync.format.ps1xml"));
        foreach (var view in format.Descendants("View").Where(v => v.Element("TableControl") is not null))
        {
            var name = view.Element("Name")!.Value;
            var headers = view.Descendants("TableColumnHeader").ToList();
            var widths = headers.Select(h => (int?)h.Element("Width")).ToList();
            Assert.True(widths.Take(widths.Count - 1).All(w => w is not null), $"{name}: only the last column may go without a width");
            var used = widths.Sum(w => w ?? 0) + headers.Count - 1;
            Assert.True(widths[^1] is null ? used + 10 <= 79 : used <= 79, $"{name}: {used} of 79 columns before its last column's room");
        }

        // Get-DbSyncStatus -Detailed: the status out of band, so that the TableStatus objects after it get their table.
        var detailed = format.Descendants("View").Single(v => v.Element("Name")!.Value == Commands.GetDbSyncStatusCommand.DetailedTypeName);
        Assert.NotNull(detailed.Element("OutOfBand"));
        Assert.Equal(Commands.GetDbSyncStatusCommand.DetailedTypeName, detailed.Element("ViewSelectedBy")!.Element("TypeName")!.Value);
    }
}
