using System.Diagnostics;
using DbSync.Core.Source;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// The locks a SQLite connection of this process holds on the file survive DbSync's own look at the file. On POSIX
/// systems closing any descriptor of a file drops every lock the process holds on it: a watch validated the path before
/// each run with its polling connection open, lost that connection's locks, and another program's checkpoint then
/// damaged the file (schema exploration, F0).
/// </summary>
public sealed class SourceLockTests : IDisposable
{
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    /// <summary>Runs `dbsync enable` in another process, not waiting for a lock; returns its exit code.</summary>
    private static int EnableElsewhere(string path)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "dbsync.dll"), "enable", "--path", path, "--busy-timeout", "0", "--json" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode;
    }

    [Fact]
    public void Validating_the_path_of_a_file_this_process_has_open_keeps_that_connections_locks()
    {
        var path = _fixture.CreateDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');");
        using var reader = SourceDatabase.Open(path);
        // A read transaction: its SHARED lock keeps any other program from committing a write.
        SyncFixture.Execute(reader, "BEGIN; SELECT count(*) FROM t;");
        Assert.Equal(1, EnableElsewhere(path));

        Assert.Equal(path, SourceDatabase.Validate(path));

        // The lock is still there: the other program still cannot write under the read (it could, and did, when the
        // header read's close had dropped it).
        Assert.Equal(1, EnableElsewhere(path));
        SyncFixture.Execute(reader, "COMMIT");
        Assert.Equal(0, EnableElsewhere(path));
        // Once no connection has it open, the header is read again: a file that is not SQLite is still refused.
        reader.Close();
        File.WriteAllText(path + ".txt", "not a database at all, just text");
        Assert.Equal("DbSync.SourceNotSqlite", Assert.Throws<DbSync.Core.DbSyncException>(() => SourceDatabase.Validate(path + ".txt")).ErrorId);
    }
}
