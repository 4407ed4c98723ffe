using System.Management.Automation;
using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Checks a SQLite file and its PostgreSQL target before a sync: one check object each, or $true/$false with -Quiet.</para>
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "DbSyncConnection", DefaultParameterSetName = PathResolver.PathSet)]
[OutputType(typeof(CheckResult), typeof(bool))]
public sealed class TestDbSyncConnectionCommand : DbSyncTargetCommand
{
    #region Parameters

    /// <summary>The PostgreSQL schema a sync would use.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Schema { get; set; } = "public";

    /// <summary>Check only matching tables (* and ?).</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Table { get; set; } = [];

    /// <summary>Check names as -PreserveCase would create them.</summary>
    [Parameter]
    public SwitchParameter PreserveCase { get; set; }

    /// <summary>Seconds to wait for PostgreSQL to answer.</summary>
    [Parameter]
    [ValidateRange(1, 600)]
    public int TargetTimeout { get; set; } = 5;

    /// <summary>Return only $true (no check failed) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    #endregion

    #region Overrides

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var files = ResolveFiles();

        var engine = new SyncEngine();
        foreach (var file in files)
        {
            if (!TryRunCore(file, token => engine.TestAsync(BuildRequest(file), token), out var checks))
            {
                continue;
            }

            if (Quiet.IsPresent)
            {
                WriteObject(checks.All(c => c.Status != CheckStatus.Fail));
            }
            else
            {
                // Core's texts name the CLI's options; shown here, the cmdlets' parameters.
                WriteObject(checks.Select(c => new CheckResult
                {
                    Name = c.Name, Status = c.Status, Message = Wording.ForPowerShell(c.Message), Fix = c.Fix is null ? null : Wording.ForPowerShell(c.Fix),
                    Target = c.Target, ErrorId = c.ErrorId,
                }), enumerateCollection: true);
            }
        }
    }

    #endregion

    /// <summary>The Core request for one file.</summary>
    internal ConnectionTestRequest BuildRequest(string path) => new()
    {
        Path = path,
        ConnectionString = EffectiveConnectionString,
        Credential = EffectiveCredential,
        Schema = Schema,
        Tables = Table,
        PreserveCase = PreserveCase.IsPresent,
        TargetTimeout = TimeSpan.FromSeconds(TargetTimeout),
    };
}
