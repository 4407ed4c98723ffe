using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;
using Npgsql;

namespace DbSync.Tests;

/// <summary>
/// Targets an administrator set up, where <c>test</c> passed (or named the wrong problem) and <c>sync</c> then failed
/// (target exploration): <c>test</c> must fail naming the problem and a fix that works, and <c>sync</c> must say what
/// it met. Each test has a database and a role of its own; the administrator is the test server's superuser.
/// </summary>
public sealed class PreflightTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly string _database;
    private readonly string _role;
    private readonly string _tablespace;
    private const string Password = "preflight";

    public PreflightTests()
    {
        _database = "f_" + _fixture.Schema;
        _role = "q_" + _fixture.Schema;
        _tablespace = "t_" + _fixture.Schema;
        _fixture.PgExecute($"CREATE DATABASE {_database}");
        _fixture.PgExecute($"CREATE ROLE {_role} LOGIN PASSWORD '{Password}'");
        Admin("REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE SCHEMA app;");
    }

    public void Dispose()
    {
        _fixture.PgExecute($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        _fixture.PgExecute($"DROP TABLESPACE IF EXISTS {_tablespace}");
        _fixture.PgExecute($"DROP OWNED BY {_role}");
        _fixture.PgExecute($"DROP ROLE IF EXISTS {_role}");
        _fixture.Dispose();
    }

    private string AdminConnection => new NpgsqlConnectionStringBuilder(TestServer.ConnectionString) { Database = _database, Pooling = false }.ConnectionString;

    private string RoleConnection => new NpgsqlConnectionStringBuilder(AdminConnection) { Username = _role, Password = Password }.ConnectionString;

    private void Admin(string sql)
    {
        using var connection = new NpgsqlConnection(AdminConnection);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private string? AdminText(string sql)
    {
        using var connection = new NpgsqlConnection(AdminConnection);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return command.ExecuteScalar() is { } value and not DBNull ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private string Items() => _fixture.CreateDatabase("""
        CREATE TABLE kind (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE item (id INTEGER PRIMARY KEY, kind_id INTEGER NOT NULL REFERENCES kind (id), name TEXT);
        INSERT INTO kind VALUES (1, 'tool'), (2, 'part');
        INSERT INTO item VALUES (1, 1, 'hammer'), (2, 2, 'bolt'), (3, 2, 'nut');
        """);

    private Task<IReadOnlyList<CheckResult>> TestAsync(string path, string connection) =>
        new SyncEngine().TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = connection, Schema = "app" });

    private Task<SyncResult> SyncAsync(string path, string connection) =>
        new SyncEngine().SyncAsync(new SyncRequest { Path = path, ConnectionString = connection, Schema = "app" });

    private static List<string> Failed(IReadOnlyList<CheckResult> checks) =>
        checks.Where(c => c.Status == CheckStatus.Fail).Select(c => $"{c.Name}: {c.Message} / {c.Fix}").ToList();

    /// <summary>The file's two tables made by one sync as the administrator, with DbSync's own tables and the grants on them.</summary>
    private async Task<string> MadeByTheAdministratorAsync()
    {
        var path = Items();
        Assert.Equal(SyncStatus.Succeeded, (await SyncAsync(path, AdminConnection)).Status);
        Admin($"""
            GRANT USAGE ON SCHEMA dbsync TO {_role};
            GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA dbsync TO {_role};
            GRANT USAGE ON ALL SEQUENCES IN SCHEMA dbsync TO {_role};
            """);
        return path;
    }

    [Fact]
    public async Task A_privilege_an_administrators_trigger_lacks_is_named_as_the_triggers_not_as_one_test_checks()
    {
        // A DBA's audit trigger writes to schema audit, which the role may not use: the sync failed saying test names
        // each missing grant, where test had passed and cannot know the trigger's needs (F4).
        var path = await MadeByTheAdministratorAsync();
        Admin($"""
            GRANT USAGE ON SCHEMA app TO {_role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {_role};
            GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA app TO {_role};
            CREATE SCHEMA audit; CREATE TABLE audit.log (id bigint);
            CREATE FUNCTION app.log_item() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN INSERT INTO audit.log VALUES (NEW.id); RETURN NEW; END';
            CREATE TRIGGER log_item AFTER INSERT OR UPDATE ON app.item FOR EACH ROW EXECUTE FUNCTION app.log_item();
            """);
        SyncFixture.Execute(path, "UPDATE item SET name = 'claw hammer' WHERE id = 1;");

        Assert.Empty(Failed(await TestAsync(path, RoleConnection)));
        var refused = await Assert.ThrowsAsync<DbSyncException>(() => SyncAsync(path, RoleConnection));

        Assert.Equal(ErrorIds.PermissionDenied, refused.ErrorId);
        Assert.Contains("permission denied for schema audit", refused.Message, StringComparison.Ordinal);
        Assert.Contains("log_item", refused.Message, StringComparison.Ordinal);
        Assert.Contains("does not check it", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("names each missing grant", refused.Message, StringComparison.Ordinal);
    }
}
