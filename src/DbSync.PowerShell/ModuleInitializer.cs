using System.Management.Automation;
using System.Runtime.Loader;
using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell;

/// <summary>
/// Runs when the module is imported: routes DbSync.Core, and through it every third-party assembly, into the
/// module's own load context. It touches no profile, file or setting and never prompts.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static readonly DbSyncLoadContext _context =
        DbSyncLoadContext.ForModule(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!);

    /// <summary>Registers the resolver.</summary>
    public void OnImport() => AssemblyLoadContext.Default.Resolving += _context.ResolveBridge;

    /// <summary>Removes the resolver when the module is removed.</summary>
    public void OnRemove(PSModuleInfo psModuleInfo) => AssemblyLoadContext.Default.Resolving -= _context.ResolveBridge;
}
