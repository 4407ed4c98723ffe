using System.Text.Json.Nodes;
using DbSync.Tests.Infrastructure;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// Loads the assembled module through its load context in a host whose default context already holds a conflicting
/// Npgsql (9.x) and the framework's own DiagnosticSource, and runs a real sync through it.
/// </summary>
[Collection(AssembledModuleCollection.Name)]
public sealed class LoadContextTests(AssembledModule module) : IDisposable
{
    private readonly SyncFixture _fixture = new();

    [Fact]
    public void Module_load_context_resolves_its_own_dependencies_next_to_conflicting_versions_and_syncs()
    {
        var path = _fixture.CopyChinook();
        var (exitCode, stdout, stderr) = AssembledModule.Run(AssembledModule.DotnetPath,
            Path.Combine(module.HostDirectory, "DbSync.LoadContextHost.dll"), module.ModuleDirectory, path, TestServer.ConnectionString, _fixture.Schema);
        Assert.True(exitCode == 0, $"host failed ({exitCode}): {stdout}\n{stderr}");
        Assert.DoesNotContain(TestServer.Password, stdout + stderr, StringComparison.Ordinal);
        var report = JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;

        Assert.Equal("Succeeded", (string?)report["status"]);
        Assert.Equal(15607, (long)report["inserted"]!);
        Assert.Equal(3503, _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".track"));

        var dependencies = Path.Combine(module.ModuleDirectory, "dependencies");
        Assert.Equal("DbSync", (string?)report["core"]!["context"]);
        Assert.StartsWith(dependencies, (string?)report["core"]!["location"], StringComparison.Ordinal);

        // Two Npgsql versions side by side: the host's 9.x in the default context, the module's 10.x in its own.
        Assert.StartsWith("9.", (string?)report["hostNpgsql"]!["version"], StringComparison.Ordinal);
        Assert.Equal("Default", (string?)report["hostNpgsql"]!["context"]);
        Assert.StartsWith("10.", (string?)report["moduleNpgsql"]!["version"], StringComparison.Ordinal);
        Assert.Equal("DbSync", (string?)report["moduleNpgsql"]!["context"]);
        Assert.StartsWith(dependencies, (string?)report["moduleNpgsql"]!["location"], StringComparison.Ordinal);

        // DiagnosticSource comes from the module's folder, not from the runtime (on PowerShell 7.4 that is .NET 8's
        // 8.0, too old for Npgsql 10), while the host keeps the framework's copy.
        Assert.Equal("DbSync", (string?)report["moduleDiagnosticSource"]!["context"]);
        Assert.StartsWith(dependencies, (string?)report["moduleDiagnosticSource"]!["location"], StringComparison.Ordinal);
        Assert.Equal("Default", (string?)report["hostDiagnosticSource"]!["context"]);
        Assert.DoesNotContain(dependencies, (string?)report["hostDiagnosticSource"]!["location"], StringComparison.Ordinal);

        // SQLite's native library was found by the load context in runtimes/<rid>/native.
        Assert.Equal("DbSync", (string?)report["moduleSqlite"]!["context"]);
    }

    public void Dispose() => _fixture.Dispose();
}
