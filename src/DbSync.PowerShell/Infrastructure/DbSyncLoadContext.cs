using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// The module's own load context. PowerShell loads only DbSync.PowerShell.dll; DbSync.Core and every third-party
/// assembly it uses (Npgsql, Microsoft.Data.Sqlite, SQLitePCLRaw, System.Diagnostics.DiagnosticSource, ...) load
/// here from <c>dependencies/</c>, so they cannot clash with other modules' copies nor with the older copies
/// PowerShell 7.4 itself loads (it runs on .NET 8, whose DiagnosticSource is older than the one Npgsql 10 needs).
/// </summary>
/// <remarks>Nothing here references System.Management.Automation, so hosts without PowerShell can use it too.</remarks>
public sealed class DbSyncLoadContext : AssemblyLoadContext
{
    /// <summary>The assembly the cmdlets reference; the only one resolved from the default context into this one.</summary>
    public const string BridgeAssemblyName = "DbSync.Core";

    private static readonly object _gate = new();
    private static DbSyncLoadContext? _instance;
    private readonly string _nativeDirectory;

    private DbSyncLoadContext(string dependencyDirectory)
        : base("DbSync", isCollectible: false)
    {
        DependencyDirectory = dependencyDirectory;
        _nativeDirectory = Path.Combine(dependencyDirectory, "runtimes", CurrentRuntimeIdentifier, "native");
    }

    /// <summary>The folder the module's dependencies are loaded from.</summary>
    public string DependencyDirectory { get; }

    /// <summary>The runtime identifier whose native SQLite library is loaded: win-x64, linux-x64, osx-x64, osx-arm64, ...</summary>
    public static string CurrentRuntimeIdentifier
    {
        get
        {
            var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
            var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            return $"{os}-{arch}";
        }
    }

    /// <summary>The one load context of the module in <paramref name="moduleDirectory"/> (created on first use).</summary>
    public static DbSyncLoadContext ForModule(string moduleDirectory)
    {
        ArgumentNullException.ThrowIfNull(moduleDirectory);
        lock (_gate)
        {
            return _instance ??= new DbSyncLoadContext(Path.Combine(moduleDirectory, "dependencies"));
        }
    }

    /// <summary>
    /// Handler for <see cref="AssemblyLoadContext.Resolving"/> of the default context: when the cmdlets first touch
    /// DbSync.Core, it is loaded here, and from then on everything Core references resolves in this context.
    /// </summary>
    public Assembly? ResolveBridge(AssemblyLoadContext context, AssemblyName assemblyName)
    {
        ArgumentNullException.ThrowIfNull(assemblyName);
        return string.Equals(assemblyName.Name, BridgeAssemblyName, StringComparison.Ordinal)
            && File.Exists(Path.Combine(DependencyDirectory, BridgeAssemblyName + ".dll"))
            ? LoadFromAssemblyName(assemblyName)
            : null;
    }

    /// <inheritdoc />
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        ArgumentNullException.ThrowIfNull(assemblyName);
        // Our own copy wins whenever we ship one, even over a framework assembly such as DiagnosticSource;
        // anything else (the framework, System.Management.Automation) comes from the default context.
        var path = Path.Combine(DependencyDirectory, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    /// <inheritdoc />
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        ArgumentNullException.ThrowIfNull(unmanagedDllName);
        foreach (var candidate in NativeFileNames(unmanagedDllName))
        {
            var path = Path.Combine(_nativeDirectory, candidate);
            if (File.Exists(path))
            {
                return LoadUnmanagedDllFromPath(path);
            }
        }

        return IntPtr.Zero;
    }

    private static IEnumerable<string> NativeFileNames(string name)
    {
        yield return name;
        if (OperatingSystem.IsWindows())
        {
            yield return name + ".dll";
        }
        else
        {
            var extension = OperatingSystem.IsMacOS() ? ".dylib" : ".so";
            yield return name + extension;
            yield return "lib" + name + extension;
        }
    }
}
