using System.Management.Automation;
using System.Reflection;
using DbSync.Core;
using DbSync.Core.Bookkeeping;
using DbSync.PowerShell.Infrastructure;
using static DbSync.PowerShell.Tests.CmdletMetadata;

namespace DbSync.PowerShell.Tests;

/// <summary>Every cmdlet's metadata: what Get-Command, tab completion, the binder and Get-Help rely on.</summary>
public sealed class CmdletMetadataTests
{
    /// <summary>The parameters each cmdlet must have, named as in docs/cli.md (plus the PowerShell-only ones).</summary>
    public static readonly Dictionary<string, string[]> Expected = new()
    {
        ["Start-DbSync"] = ["Path", "LiteralPath", "ConnectionString", "Credential", "Schema", "Table", "BatchSize", "Resync", "PreserveCase",
            "LockTimeout", "BusyTimeout", "LogPath", "KeepDays", "PruneBackup", "ConflictPolicy", "NewestColumn", "NodePartitioned", "Continuous", "Interval"],
        ["Get-DbSyncStatus"] = ["Path", "LiteralPath", "ConnectionString", "Credential", "Detailed", "TargetTimeout"],
        ["Test-DbSyncConnection"] = ["Path", "LiteralPath", "ConnectionString", "Credential", "Schema", "Table", "PreserveCase", "TargetTimeout", "Quiet"],
        ["Enable-DbSync"] = ["Path", "LiteralPath", "Table", "LockTimeout", "BusyTimeout"],
        ["Disable-DbSync"] = ["Path", "LiteralPath", "Table", "Force", "Purge", "LockTimeout", "BusyTimeout"],
        ["Get-DbSyncLog"] = ["Path", "LiteralPath", "Last", "Since", "Status"],
        ["Restore-DbSyncLog"] = ["Path", "LiteralPath", "BackupPath"],
        ["Get-DbSyncConflict"] = ["Path", "LiteralPath", "NodeId", "ConnectionString", "Credential", "Table", "RunId", "Since", "Last"],
        ["Get-DbSyncQuarantine"] = ["Path", "LiteralPath", "ConnectionString", "Credential", "Table", "Retry", "Schema", "BatchSize", "PreserveCase",
            "LockTimeout", "BusyTimeout", "LogPath", "ConflictPolicy", "NewestColumn", "NodePartitioned"],
        ["Reset-DbSyncNode"] = ["Path", "LiteralPath", "ConnectionString", "Credential", "LockTimeout", "BusyTimeout", "Force"],
    };

    // Get-DbSyncQuarantine changes both databases with -Retry (a sync), and only then asks ShouldProcess.
    private static readonly string[] _changesDatabases = ["Start-DbSync", "Enable-DbSync", "Disable-DbSync", "Restore-DbSyncLog", "Get-DbSyncQuarantine", "Reset-DbSyncNode"];

    /// <summary>Cmdlets that change a file's identity or remove capture: they ask first.</summary>
    private static readonly string[] _highImpact = ["Disable-DbSync", "Reset-DbSyncNode"];

    /// <summary>Cmdlets whose -Path is optional (they can work without a file).</summary>
    private static readonly string[] _pathOptional = ["Get-DbSyncConflict"];

    public static TheoryData<string> Cmdlets() => new(Expected.Keys);

    private static Type TypeOf(string cmdlet) => CmdletTypes(ModuleAssembly).Single(t => CmdletName(t) == cmdlet);

    [Fact]
    public void The_assembly_has_exactly_the_documented_cmdlets_and_the_manifest_exports_the_same()
    {
        var names = CmdletTypes(ModuleAssembly).Select(CmdletName).Order().ToList();
        Assert.Equal(Expected.Keys.Order(), names);
        var manifest = File.ReadAllText(RepoFile("module", "DbSync.psd1"));
        Assert.Equal(names, ManifestCmdlets(manifest).Order());
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Cmdlet_class_is_public_sealed_named_after_an_approved_verb(string cmdlet)
    {
        var type = TypeOf(cmdlet);
        var verb = cmdlet.Split('-')[0];
        Assert.True(type.IsPublic && type.IsSealed, $"{type.Name} must be public sealed");
        Assert.Equal("DbSync.PowerShell.Commands", type.Namespace);
        Assert.Equal(cmdlet.Replace("-", "", StringComparison.Ordinal) + "Command", type.Name);
        Assert.Contains(verb, ApprovedVerbs);
        Assert.True(typeof(PSCmdlet).IsAssignableFrom(type));
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Cmdlet_declares_public_sealed_output_types(string cmdlet)
    {
        var outputTypes = Attributes(TypeOf(cmdlet), "OutputTypeAttribute")
            .SelectMany(a => a.ConstructorArguments)
            .SelectMany(arg => arg.Value is IEnumerable<CustomAttributeTypedArgument> many ? many.Select(m => m.Value) : [arg.Value])
            .OfType<Type>().ToList();
        Assert.NotEmpty(outputTypes);
        foreach (var type in outputTypes.Where(t => t != typeof(bool)))
        {
            Assert.True(type.IsPublic && type.IsSealed, $"{cmdlet} outputs {type}, which must be public and sealed");
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Cmdlet_has_the_documented_parameters_with_PowerShell_types(string cmdlet)
    {
        var parameters = Parameters(TypeOf(cmdlet));
        Assert.Equal(Expected[cmdlet].Order(), parameters.Select(p => p.Name).Order());
        foreach (var parameter in parameters)
        {
            Assert.NotEqual(typeof(bool), parameter.PropertyType);
            Assert.DoesNotContain("Password", parameter.Name, StringComparison.OrdinalIgnoreCase);
            Assert.True(parameter.CanRead && parameter.CanWrite);
        }

        foreach (var name in new[] { "Resync", "PreserveCase", "PruneBackup", "Continuous", "Detailed", "Quiet", "Force", "Purge", "Retry" })
        {
            if (parameters.SingleOrDefault(p => p.Name == name) is { } flag)
            {
                Assert.Equal(typeof(SwitchParameter), flag.PropertyType);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Path_takes_wildcards_and_pipeline_input_LiteralPath_binds_PSPath(string cmdlet)
    {
        var type = TypeOf(cmdlet);
        Assert.Equal("Path", Named<string>(Attribute(type, "CmdletAttribute")!, "DefaultParameterSetName"));

        var path = type.GetProperty("Path")!;
        var pathParameter = Assert.Single(Attributes(path, "ParameterAttribute"));
        Assert.Equal(typeof(string[]), path.PropertyType);
        Assert.Equal(!_pathOptional.Contains(cmdlet), Named<bool>(pathParameter, "Mandatory"));
        Assert.Equal(0, Named<int>(pathParameter, "Position"));
        Assert.Equal("Path", Named<string>(pathParameter, "ParameterSetName"));
        Assert.True(Named<bool>(pathParameter, "ValueFromPipeline"));
        Assert.True(Named<bool>(pathParameter, "ValueFromPipelineByPropertyName"));
        Assert.NotNull(Attribute(path, "SupportsWildcardsAttribute"));

        var literal = type.GetProperty("LiteralPath")!;
        var literalParameter = Assert.Single(Attributes(literal, "ParameterAttribute"));
        Assert.True(Named<bool>(literalParameter, "Mandatory"));
        Assert.Equal("LiteralPath", Named<string>(literalParameter, "ParameterSetName"));
        Assert.True(Named<bool>(literalParameter, "ValueFromPipelineByPropertyName"));
        Assert.False(Named<bool>(literalParameter, "ValueFromPipeline"));
        Assert.Null(Attribute(literal, "SupportsWildcardsAttribute"));
        var alias = Attribute(literal, "AliasAttribute")!;
        var aliases = ((IEnumerable<CustomAttributeTypedArgument>)alias.ConstructorArguments[0].Value!).Select(a => (string)a.Value!);
        Assert.Contains("PSPath", aliases);
        // 'Get-ChildItem | Select-Object FullName', Import-Csv: bound by value they were '@{FullName=...}'.
        Assert.Contains("FullName", aliases);

        // Every other parameter belongs to every set, except the alternatives to a file (-NodeId).
        foreach (var other in Parameters(type).Where(p => p.Name is not "Path" and not "LiteralPath" and not "NodeId"))
        {
            Assert.Null(Named<string>(Assert.Single(Attributes(other, "ParameterAttribute")), "ParameterSetName"));
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void A_piped_run_log_entry_names_the_file_its_log_was_read_from_not_the_path_it_recorded(string cmdlet)
    {
        // Get-DbSyncLog's entries carry a ReadFrom note; the hidden -ReadFrom takes it by property name, in every set,
        // and wins over the entry's Path (where the file was when that run ran: module exploration F3).
        var readFrom = TypeOf(cmdlet).GetProperty("ReadFrom")!;
        Assert.Equal(typeof(string), readFrom.PropertyType);
        var parameter = Assert.Single(Attributes(readFrom, "ParameterAttribute"));
        Assert.True(Named<bool>(parameter, "ValueFromPipelineByPropertyName"));
        Assert.False(Named<bool>(parameter, "ValueFromPipeline"));
        Assert.True(Named<bool>(parameter, "DontShow"));
        Assert.Null(Named<string>(parameter, "ParameterSetName"));
        Assert.Equal(DbSync.PowerShell.Commands.GetDbSyncLogCommand.ReadFromProperty, readFrom.Name);
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Table_takes_wildcards_and_completes_from_the_source_database(string cmdlet)
    {
        if (TypeOf(cmdlet).GetProperty("Table") is not { } table)
        {
            return;
        }

        Assert.Equal(typeof(string[]), table.PropertyType);
        Assert.NotNull(Attribute(table, "SupportsWildcardsAttribute"));
        Assert.Equal(typeof(TableNameCompleter), Attribute(table, "ArgumentCompleterAttribute")!.ConstructorArguments[0].Value);
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Credential_is_a_PSCredential_with_the_credential_transformation(string cmdlet)
    {
        if (TypeOf(cmdlet).GetProperty("Credential") is not { } credential)
        {
            return;
        }

        Assert.Equal(typeof(PSCredential), credential.PropertyType);
        Assert.NotNull(Attribute(credential, "CredentialAttribute"));
        Assert.NotNull(TypeOf(cmdlet).GetProperty("ConnectionString"));
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Cmdlets_that_change_a_database_support_ShouldProcess_and_readers_do_not(string cmdlet)
    {
        var attribute = Attribute(TypeOf(cmdlet), "CmdletAttribute")!;
        Assert.Equal(_changesDatabases.Contains(cmdlet), Named<bool>(attribute, "SupportsShouldProcess"));
        var impact = attribute.NamedArguments.Where(a => a.MemberName == "ConfirmImpact").Select(a => (ConfirmImpact)(int)a.TypedValue.Value!).FirstOrDefault(ConfirmImpact.Medium);
        Assert.Equal(_highImpact.Contains(cmdlet) ? ConfirmImpact.High : ConfirmImpact.Medium, impact);
    }

    [Fact]
    public void Enumerated_and_numeric_parameters_are_typed_and_validated()
    {
        Assert.Equal(typeof(RunStatus), TypeOf("Get-DbSyncLog").GetProperty("Status")!.PropertyType);
        Assert.Equal(typeof(DateTime), TypeOf("Get-DbSyncLog").GetProperty("Since")!.PropertyType);
        Assert.Equal(typeof(DateTime), TypeOf("Get-DbSyncConflict").GetProperty("Since")!.PropertyType);
        Assert.Equal(typeof(Guid), TypeOf("Get-DbSyncConflict").GetProperty("RunId")!.PropertyType);
        Assert.Equal(typeof(ConflictPolicy), TypeOf("Start-DbSync").GetProperty("ConflictPolicy")!.PropertyType);
        Assert.Equal(typeof(ConflictPolicy), TypeOf("Get-DbSyncQuarantine").GetProperty("ConflictPolicy")!.PropertyType);
        var batch = TypeOf("Start-DbSync").GetProperty("BatchSize")!;
        Assert.Equal(1, Attribute(batch, "ValidateRangeAttribute")!.ConstructorArguments[0].Value);
        foreach (var (cmdlet, names) in Expected)
        {
            foreach (var name in names.Where(n => n.EndsWith("Timeout", StringComparison.Ordinal) || n is "KeepDays" or "Last"))
            {
                var property = TypeOf(cmdlet).GetProperty(name)!;
                Assert.Equal(typeof(int), property.PropertyType);
                Assert.NotNull(Attribute(property, "ValidateRangeAttribute"));
            }
        }
    }

    [Fact]
    public void Get_DbSyncConflict_takes_a_file_or_a_node_id_or_neither()
    {
        var type = TypeOf("Get-DbSyncConflict");
        var node = Assert.Single(Attributes(type.GetProperty("NodeId")!, "ParameterAttribute"));
        Assert.Equal("NodeId", Named<string>(node, "ParameterSetName"));
        Assert.True(Named<bool>(node, "Mandatory"));
        // A sync result or run log entry piped in binds its run.
        Assert.True(Named<bool>(Assert.Single(Attributes(type.GetProperty("RunId")!, "ParameterAttribute")), "ValueFromPipelineByPropertyName"));
        Assert.Equal(1, Named<int>(Assert.Single(Attributes(type.GetProperty("ConnectionString")!, "ParameterAttribute")), "Position"));
        Assert.Equal(100, new DbSync.PowerShell.Commands.GetDbSyncConflictCommand().Last);
    }

    [Fact]
    public void NodePartitioned_takes_wildcards_and_completes_table_names()
    {
        foreach (var cmdlet in new[] { "Start-DbSync", "Get-DbSyncQuarantine" })
        {
            var property = TypeOf(cmdlet).GetProperty("NodePartitioned")!;
            Assert.Equal(typeof(string[]), property.PropertyType);
            Assert.NotNull(Attribute(property, "SupportsWildcardsAttribute"));
            Assert.Equal(typeof(TableNameCompleter), Attribute(property, "ArgumentCompleterAttribute")!.ConstructorArguments[0].Value);
        }
    }

    [Fact]
    public void The_module_initializer_routes_Core_into_the_module_load_context()
    {
        var initializer = ModuleAssembly.GetType("DbSync.PowerShell.ModuleInitializer")!;
        Assert.True(typeof(IModuleAssemblyInitializer).IsAssignableFrom(initializer));
        Assert.True(typeof(IModuleAssemblyCleanup).IsAssignableFrom(initializer));
        Assert.Equal(DbSyncLoadContext.BridgeAssemblyName, typeof(SyncEngine).Assembly.GetName().Name);
    }

    [Fact]
    public void No_cmdlet_stores_a_Core_value_type_in_a_field()
    {
        // PowerShell reflects over the cmdlet classes at import, before ModuleInitializer runs: a field whose type
        // is a Core struct or enum would make the runtime load DbSync.Core into the wrong load context.
        foreach (var type in CmdletTypes(ModuleAssembly))
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public))
            {
                var fieldType = Nullable.GetUnderlyingType(field.FieldType) ?? field.FieldType;
                Assert.False(fieldType.IsValueType && fieldType.Assembly == typeof(SyncEngine).Assembly, $"{type.Name}.{field.Name} is a {fieldType}");
            }
        }
    }
}
