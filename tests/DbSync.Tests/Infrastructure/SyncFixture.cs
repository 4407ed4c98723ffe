using System.Security.Cryptography;
using DbSync.Core;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Tests.Infrastructure;

/// <summary>One test's world: a temp folder for SQLite files and a PostgreSQL schema of its own, both removed after.</summary>
public sealed class SyncFixture : IDisposable
{
    public SyncFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("dbsync-test-").FullName;
        Schema = "t_" + Guid.NewGuid().ToString("N")[..12];
    }

    public string Directory { get; }

    public string Schema { get; }

    public static string ChinookSource => Path.GetFullPath(Path.Combine(TestServer.RepoRoot, "..", "shared", "data", "chinook.sqlite"));

    /// <summary>A private copy of Chinook.</summary>
    public string CopyChinook(string name = "chinook.sqlite")
    {
        var path = Path.Combine(Directory, name);
        File.Copy(ChinookSource, path);
        return path;
    }

    /// <summary>Creates a SQLite file from SQL.</summary>
    public string CreateDatabase(string sql, string name = "test.sqlite")
    {
        var path = Path.Combine(Directory, name);
        using var connection = OpenSqlite(path, create: true);
        Execute(connection, sql);
        return path;
    }

    public static SqliteConnection OpenSqlite(string path, bool create = false)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = 60,
        }.ToString());
        connection.Open();
        return connection;
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// True once the file's run log holds a run (with <paramref name="status"/>, when given), read without taking any lock
    /// a run needs; false while the log does not exist yet or a run locks the file for a moment.
    /// </summary>
    public static bool RunLogged(string path, string? status = null)
    {
        try
        {
            using var sqlite = OpenSqlite(path);
            using var command = sqlite.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE name = '_dbsync_runs'";
            if ((long)command.ExecuteScalar()! == 0)
            {
                return false;
            }

            command.CommandText = "SELECT count(*) FROM _dbsync_runs WHERE $status IS NULL OR status = $status";
            command.Parameters.AddWithValue("$status", (object?)status ?? DBNull.Value);
            return (long)command.ExecuteScalar()! > 0;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    public static void Execute(string path, string sql)
    {
        using var connection = OpenSqlite(path);
        Execute(connection, sql);
    }

    public SyncRequest Request(string path, params string[] tables) => new()
    {
        Path = path,
        ConnectionString = TestServer.ConnectionString,
        Schema = Schema,
        Tables = tables,
        LockTimeout = TimeSpan.FromSeconds(60),
    };

    public Task<SyncResult> SyncAsync(string path, params string[] tables) => new SyncEngine().SyncAsync(Request(path, tables));

    public long PgScalar(string sql)
    {
        using var connection = TestServer.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public string? PgText(string sql)
    {
        using var connection = TestServer.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return command.ExecuteScalar() is string text ? text : null;
    }

    public void PgExecute(string sql)
    {
        using var connection = TestServer.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    public bool SchemaExists() => PgScalar($"SELECT count(*) FROM pg_namespace WHERE nspname = '{Schema}'") > 0;

    /// <summary>A hash of the file's bytes, to prove a failed run did not write to it.</summary>
    public static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    public void Dispose()
    {
        // Every test's files (SQLite databases with their run log, JSON-lines backups, reports) are scanned for the
        // test server's password before they go: finding it fails the test that wrote it.
        var leaks = LeakedPassword();
        try
        {
            PgExecute($"DROP SCHEMA IF EXISTS \"{Schema}\" CASCADE");
        }
        catch (NpgsqlException)
        {
            // The server may be one a test stopped on purpose.
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }

        Assert.True(leaks.Count == 0, "The test server's password appears in: " + string.Join(", ", leaks));
    }

    private List<string> LeakedPassword()
    {
        var leaks = new List<string>();
        var password = System.Text.Encoding.UTF8.GetBytes(TestServer.Password);
        if (password.Length == 0 || !System.IO.Directory.Exists(Directory))
        {
            return leaks;
        }

        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*", SearchOption.AllDirectories))
        {
            try
            {
                if (File.ReadAllBytes(file).AsSpan().IndexOf(password) >= 0)
                {
                    leaks.Add(file);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A file another process still holds (or a mount point) is not a leak.
            }
        }

        return leaks;
    }
}
