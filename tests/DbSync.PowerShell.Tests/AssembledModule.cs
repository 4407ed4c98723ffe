using System.Diagnostics;
using DbSync.Tests.Infrastructure;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// Assembles the module into a temp folder exactly as build.ps1 does, but without pwsh:
/// <c>dotnet publish src/DbSync.PowerShell -c Release -p:ModuleDir=...</c>; also builds the load-context host.
/// </summary>
public sealed class AssembledModule : IDisposable
{
    public AssembledModule()
    {
        Root = Directory.CreateTempSubdirectory("dbsync-module-").FullName;
        ModuleDirectory = Path.Combine(Root, "DbSync");
        Dotnet("publish", Path.Combine(TestServer.RepoRoot, "src", "DbSync.PowerShell", "DbSync.PowerShell.csproj"),
            "-c", "Release", "-o", Path.Combine(Root, "publish"), $"-p:ModuleDir={ModuleDirectory}", "--nologo");
        HostDirectory = Path.Combine(Root, "host");
        Dotnet("build", Path.Combine(TestServer.RepoRoot, "tests", "DbSync.LoadContextHost", "DbSync.LoadContextHost.csproj"),
            "-c", "Release", "-o", HostDirectory, "--nologo");
    }

    public string Root { get; }

    /// <summary>The assembled out/DbSync equivalent.</summary>
    public string ModuleDirectory { get; }

    public string HostDirectory { get; }

    public static (int ExitCode, string Stdout, string Stderr) Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestServer.RepoRoot };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The outer `dotnet test` exports MSBuild variables meant for itself; a nested build must find its own.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish in 10 minutes");
        }

        return (process.ExitCode, stdout, stderr.Result);
    }

    private static void Dotnet(params string[] arguments)
    {
        var (exitCode, stdout, stderr) = Run(DotnetPath, arguments);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"dotnet {string.Join(' ', arguments)} failed ({exitCode}):\n{stdout}\n{stderr}");
        }
    }

    public static string DotnetPath => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AssembledModuleCollection : ICollectionFixture<AssembledModule>
{
    public const string Name = "Assembled module";
}
