using System.Diagnostics;
using Npgsql;

namespace DbSync.Tests.Infrastructure;

/// <summary>
/// The PostgreSQL server tests use: DBSYNC_TEST_PG when set, otherwise a throwaway cluster started once per test
/// run by scripts/test-postgres.sh and stopped when the run ends. A test that needs it and cannot get it fails;
/// nothing is skipped.
/// </summary>
public static class TestServer
{
    private static readonly Lazy<string> _connectionString = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static string? _ownedDirectory;

    /// <summary>Connection string with the password.</summary>
    public static string ConnectionString => _connectionString.Value;

    /// <summary>The password of the test server (tests assert it never appears in output).</summary>
    public static string Password => new NpgsqlConnectionStringBuilder(ConnectionString).Password ?? "";

    public static string RepoRoot { get; } = FindRepoRoot();

    public static NpgsqlConnection Open()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Starts a private cluster (for tests that stop or restart a server). The caller stops it.</summary>
    public static (string ConnectionString, string Directory) StartPrivate()
    {
        var dir = Path.Combine(Path.GetTempPath(), "dbsync-pg-" + Guid.NewGuid().ToString("N")[..8]);
        return (RunScript("start", dir), dir);
    }

    public static void StopPrivate(string directory) => RunScript("stop", directory);

    /// <summary>Stops a private server at once, as a crash would, keeping its data.</summary>
    public static void HaltPrivate(string directory) => RunScript("halt", directory);

    /// <summary>Starts a halted private server again on the same port.</summary>
    public static void ResumePrivate(string directory) => RunScript("resume", directory);

    private static string Start()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("DBSYNC_TEST_PG");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return fromEnvironment;
        }

        var (connection, directory) = StartPrivate();
        _ownedDirectory = directory;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (_ownedDirectory is not null)
            {
                RunScript("stop", _ownedDirectory);
            }
        };
        return connection;
    }

    private static string RunScript(string command, string directory)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepoRoot, "scripts", "test-postgres.sh"));
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(directory);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/test-postgres.sh {command} failed ({process.ExitCode}): {stderr}");
        }

        return stdout.Trim();
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DbSync.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("DbSync.sln not found above " + AppContext.BaseDirectory);
    }
}
