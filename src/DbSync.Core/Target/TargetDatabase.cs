using System.Net.Sockets;
using DbSync.Core.Schema;
using Npgsql;

namespace DbSync.Core.Target;

/// <summary>A column of an existing PostgreSQL table.</summary>
/// <param name="Name">Column name as stored.</param>
/// <param name="FormattedType">format_type() text.</param>
/// <param name="Type">The type when DbSync can write it, else null.</param>
/// <param name="NotNull">attnotnull.</param>
/// <param name="HasDefault">A default, identity or generated expression fills it when omitted.</param>
public sealed record TargetColumn(string Name, string FormattedType, PgType? Type, bool NotNull, bool HasDefault)
{
    /// <summary>A generated column (GENERATED ALWAYS AS ... STORED): PostgreSQL computes it and refuses any value for it.</summary>
    public bool Generated { get; init; }

    /// <summary>
    /// An identity column GENERATED ALWAYS: PostgreSQL takes a value for it only from an INSERT that says OVERRIDING
    /// SYSTEM VALUE, and lets no UPDATE set it.
    /// </summary>
    public bool IdentityAlways { get; init; }

    /// <summary>
    /// The column's collation when it is nondeterministic (an ICU collation that ignores case or accents), else null:
    /// PostgreSQL then calls text equal that differs.
    /// </summary>
    public string? NondeterministicCollation { get; init; }
}

/// <summary>An existing PostgreSQL table.</summary>
public sealed class TargetTable
{
    /// <summary>Table name as stored.</summary>
    public required string Name { get; init; }

    /// <summary>Columns in attnum order.</summary>
    public List<TargetColumn> Columns { get; } = [];

    /// <summary>Column sets of the primary key and unique constraints, any of which can serve an upsert.</summary>
    public List<IReadOnlyList<string>> UniqueKeys { get; } = [];

    /// <summary>
    /// The table has a trigger of its own (not a constraint's), a rule or row-level security: PostgreSQL may then store
    /// a row otherwise than DbSync wrote it, or not at all, without an error, so a run checks what it wrote.
    /// </summary>
    public bool AltersWrites { get; set; }

    /// <summary>A partitioned table (relkind 'p'): PostgreSQL returns no system column from its writes.</summary>
    public bool Partitioned { get; set; }

    /// <summary>What the relation is when it is no table DbSync can write (a view, ...), else null.</summary>
    public string? NotATable { get; set; }

    /// <summary>
    /// Not a relation with columns but another object whose name a new table cannot take (a sequence, an index, a
    /// type): it is in the way of its exact name only, never matched case-insensitively as a table is.
    /// </summary>
    public bool NameOnly { get; init; }

    /// <summary>
    /// Deferrable primary key and unique constraints (name, whether the primary key, columns), kept out of <see cref="UniqueKeys"/>: PostgreSQL
    /// takes none as an upsert's arbiter nor as the key a foreign key references (55000).
    /// </summary>
    public List<(string Name, bool Primary, IReadOnlyList<string> Columns)> DeferrableKeys { get; } = [];

    /// <summary>
    /// The rules that stop DbSync's writes, as text ("ON INSERT", "DO INSTEAD ON DELETE", ...), or null: any rule on
    /// INSERT or UPDATE (PostgreSQL refuses INSERT … ON CONFLICT on such a table), an INSTEAD rule on DELETE (which
    /// replaces the delete and its RETURNING).
    /// </summary>
    public string? BlockingRules { get; set; }

    /// <summary>
    /// The tables that inherit from this plain table (INHERITS: an archive, or partitioning as before PostgreSQL 10), quoted
    /// with their schemas, or null. Their rows show in the table, but its primary key does not see them. A declarative
    /// partitioned table's partitions are not listed: its key covers them.
    /// </summary>
    public string? InheritedBy { get; set; }

    /// <summary>Finds a column by name, case-insensitively (an exact match wins).</summary>
    public TargetColumn? FindColumn(string name) =>
        Columns.FirstOrDefault(c => c.Name == name) ?? Columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Connects to PostgreSQL and reads what is there, translating failures into stable error ids.</summary>
public static class TargetDatabase
{
    /// <summary>Parses and normalises a connection string; the result never needs to be shown to anyone.</summary>
    /// <exception cref="DbSyncException">ConnectionMissing or InvalidConnectionString.</exception>
    public static NpgsqlConnectionStringBuilder ParseConnectionString(string? connectionString, System.Net.NetworkCredential? credential = null)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new DbSyncException(ErrorIds.ConnectionMissing, DbSyncErrorCategory.InvalidArgument,
                "No PostgreSQL connection string was given (--connection or DBSYNC_CONNECTION).");
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            // Npgsql's message names the bad key; it never echoes the whole string back.
            throw new DbSyncException(ErrorIds.InvalidConnectionString, DbSyncErrorCategory.InvalidArgument,
                $"The PostgreSQL connection string is not valid: {ex.Message}", inner: ex);
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw new DbSyncException(ErrorIds.InvalidConnectionString, DbSyncErrorCategory.InvalidArgument,
                "The PostgreSQL connection string names no Host.");
        }

        // A Passfile that is not there is a mistake in the connection string, whether or not a password makes it unused:
        // said before connecting, so that `test` files it under the connection string and not the network.
        if (builder.Passfile is { Length: > 0 } passfile && !File.Exists(passfile))
        {
            throw new DbSyncException(ErrorIds.InvalidConnectionString, DbSyncErrorCategory.InvalidArgument,
                $"The pgpass file '{passfile}' that the connection string names (Passfile) does not exist.", passfile);
        }

        if (credential is not null)
        {
            // -Credential wins over the connection string, so a password never has to be written into one.
            if (!string.IsNullOrEmpty(credential.UserName))
            {
                builder.Username = credential.UserName;
            }

            builder.Password = credential.Password;
        }

        builder.ApplicationName ??= "dbsync";
        // Pooling would keep sockets to the server open after a run; one run uses one connection.
        builder.Pooling = false;
        // A run waits on PostgreSQL without a time limit (a load takes as long as it takes), so a peer gone silent (a
        // partition, a VPN or NAT that dropped the flow, a host that died) would leave a scheduled run waiting for ever,
        // holding the file's run lock. TCP keepalive makes the kernel give up on such a peer within about a minute; a
        // live server's kernel answers the probes however long its statement runs. Values the user sets win.
        if (!HasKey(connectionString, "Tcp Keepalive", "TcpKeepAlive", "Tcp Keepalive Time", "TcpKeepAliveTime", "Tcp Keepalive Interval", "TcpKeepAliveInterval"))
        {
            builder.TcpKeepAliveTime = 10;
            builder.TcpKeepAliveInterval = 5;
        }

        return builder;
    }

    /// <summary>Whether the connection string as given sets any of these keys (in any of their spellings' case).</summary>
    internal static bool HasKey(string connectionString, params string[] keys)
    {
        var parsed = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        return keys.Any(parsed.ContainsKey);
    }

    /// <summary>"host:port/database as user", for messages and logs. Never contains the password.</summary>
    public static string Describe(NpgsqlConnectionStringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Npgsql's defaults for what the string leaves out, so that no message says "host:5432/ as ".
        var user = builder.Username is { Length: > 0 } given ? given : NonBlank(Environment.GetEnvironmentVariable("PGUSER")) ?? Environment.UserName;
        var database = builder.Database is { Length: > 0 } named ? named : NonBlank(Environment.GetEnvironmentVariable("PGDATABASE")) ?? user;
        return $"{builder.Host}:{builder.Port}/{database} as {user}";

        static string? NonBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
    }

    /// <summary>Opens a connection, mapping every failure to a clear error.</summary>
    /// <param name="builder">The connection string.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <param name="forWriting">
    /// The session will write synced tables: a <c>session_replication_role</c> other than <c>origin</c> that the role
    /// cannot set back is refused (<see cref="ErrorIds.PermissionDenied"/>), since PostgreSQL then checks no foreign key
    /// and fires no trigger for its writes.
    /// </param>
    public static async Task<NpgsqlConnection> OpenAsync(NpgsqlConnectionStringBuilder builder, CancellationToken cancellationToken, bool forWriting = false)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var connection = new NpgsqlConnection(builder.ConnectionString);
        var opened = false;
        try
        {
            // Npgsql gives up the TCP connect at a cancel, not the startup exchange after it: a server (an ssh tunnel, a
            // proxy whose backend is down) that accepts and never answers held Ctrl+C, SIGTERM and Stop-Job for the whole
            // connect Timeout, for ever with Timeout=0 (module exploration, F2). The open is abandoned at the cancel, and
            // the connection disposed once Npgsql lets it go.
            var open = connection.OpenAsync(cancellationToken);
            try
            {
                await open.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !open.IsCompleted)
            {
                _ = open.ContinueWith(static (t, c) => { _ = t.Exception; ((NpgsqlConnection)c!).Dispose(); }, connection,
                    CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                throw;
            }

            opened = true;
            // Staging tables are TEMP tables, held in this session's local buffers (8 MB by default); a push of a
            // few hundred thousand rows then spills to disk. The setting only counts before the first temp table.
            try
            {
                using var command = new NpgsqlCommand("SET temp_buffers = '256MB'", connection);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState is "22023" or "55P02" or "42501")
            {
                // A reused (pooled) session that already had temp tables keeps its setting; that only costs speed.
            }

            await SetSessionAsync(connection, builder, forWriting, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            // A connection that timed out before it was open waited for the handshake (the connect Timeout), not for a
            // statement: no lock is involved, whatever Command Timeout says.
            if (!opened && (ex is TimeoutException || ex.InnerException is TimeoutException))
            {
                var where = Describe(builder);
                throw new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                    $"PostgreSQL at {where} did not complete the connection within {builder.Timeout} s: the server is down or overloaded, or the network or a firewall drops the packets.",
                    where, ex);
            }

            throw Translate(ex, builder);
        }
    }

    /// <summary>
    /// Settings a role or a database may give every session that a run cannot work under, in one round trip:
    /// <list type="bullet">
    /// <item>For writing, the time limits are set to 0 for this session (anyone may; without Command Timeout they are
    /// startup options too, which hold from the first statement on). A large load takes minutes, the run's transaction
    /// waits between statements while it reads the file, and it waits for an application's row locks as for anything
    /// else; with a Command Timeout given, that is the run's limit. A role's 20 ms <c>statement_timeout</c> failed every
    /// run with a Command Timeout with a bare 57014, its <c>lock_timeout</c> with a bare 55P03, and
    /// <c>idle_session_timeout</c> (PostgreSQL 14+) ended the session while a run waited for the file's run lock or for
    /// another program's lock on the file, and every kept connection of <c>sync --watch</c> after a quiet second.</item>
    /// <item><c>session_replication_role = replica</c> (set for a role shared with a replication tool) makes PostgreSQL
    /// skip foreign key checks and triggers: orphans went into tables with foreign keys and an administrator's audit
    /// triggers never fired, silently. It is set back to <c>origin</c>; a role that may not do so is refused for writing.</item>
    /// </list>
    /// </summary>
    private static async Task SetSessionAsync(NpgsqlConnection connection, NpgsqlConnectionStringBuilder builder, bool forWriting, CancellationToken cancellationToken)
    {
        string role;
        var timeouts = forWriting
            ? new[] { "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout" }
                .Concat(connection.PostgreSqlVersion.Major >= 14 ? ["idle_session_timeout"] : Array.Empty<string>())
                .Select(name => $", set_config('{name}', '0', false)")
            : [];
        using (var command = new NpgsqlCommand("SELECT current_setting('session_replication_role')" + string.Concat(timeouts), connection))
        {
            role = (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        if (role == "origin")
        {
            return;
        }

        try
        {
            using var reset = new NpgsqlCommand("SET session_replication_role = origin", connection);
            await reset.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == "42501" && forWriting)
        {
            var where = Describe(builder);
            throw new DbSyncException(ErrorIds.PermissionDenied, DbSyncErrorCategory.PermissionDenied,
                $"PostgreSQL at {where} starts this session with session_replication_role = {role} (set for the role or the database), under which it checks no foreign key and fires no trigger, and the role may not set it back to origin: DbSync would write rows PostgreSQL never checks. "
                + $"{ReplicationRoleFix(builder.Username)} Nothing was written.", where, ex);
        }
        catch (PostgresException ex) when (ex.SqlState == "42501")
        {
            // Only reading (test, conflicts): the setting does not matter.
        }
    }

    /// <summary>What to do about a session that starts as a replica and may not be set back (sync's refusal, test's Fail).</summary>
    /// <summary>
    /// The schema a run writes to. The name given (lower-cased unless --preserve-case) when it exists or no schema has it
    /// in another case (the run creates it); else the one existing schema whose name differs only in case ("Sales", which
    /// an administrator made with quotes), found as a table is: `--schema Sales` created a schema sales beside it and
    /// loaded every table there, and no option could name "Sales" without also keeping the case of every table and
    /// column. Several such schemas and none with the exact name: which one is meant is unknown, and it is refused.
    /// </summary>
    /// <exception cref="DbSyncException">UsageError: several schemas match in other cases.</exception>
    public static async Task<string> ResolveSchemaAsync(NpgsqlConnection pg, string schema, bool preserveCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pg);
        if (preserveCase)
        {
            return schema;
        }

        var names = new List<string>();
        using (var command = new NpgsqlCommand("SELECT nspname FROM pg_namespace WHERE lower(nspname) = lower($1) ORDER BY nspname", pg))
        {
            command.Parameters.AddWithValue(schema);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                names.Add(reader.GetString(0));
            }
        }

        return names.Count == 0 || names.Contains(schema, StringComparer.Ordinal) ? schema
            : names.Count == 1 ? names[0]
            : throw new DbSyncException(ErrorIds.UsageError, DbSyncErrorCategory.InvalidArgument,
                $"--schema {schema} matches schemas {string.Join(" and ", names.Select(n => Identifiers.Quote(n)))} in PostgreSQL, none of them spelt '{schema}': " +
                "give the exact name with --preserve-case (which also keeps the case of table and column names), or rename one of them.", schema);
    }

    internal static string ReplicationRoleFix(string? user) =>
        $"As a superuser: ALTER ROLE {Identifiers.Quote(user ?? "")} RESET session_replication_role; (or ALTER DATABASE ... RESET, wherever it is set), or GRANT SET ON PARAMETER session_replication_role TO {Identifiers.Quote(user ?? "")};";

    /// <summary>What to do about a TLS failure (<see cref="TlsFailure"/>).</summary>
    internal const string TlsFix = "With SSL Mode=VerifyCA or VerifyFull, give the server's CA certificate in Root Certificate (and, for VerifyFull, connect by a host name the certificate names); SSL Mode=Require encrypts without checking the certificate. A server without TLS needs ssl = on there, or SSL Mode=Prefer or Disable here.";

    /// <summary>
    /// Why a connection failed in its TLS handshake or for want of TLS on the server, or null when that was not it: the
    /// innermost message of a handshake's AuthenticationException (an untrusted certificate, a name mismatch), or Npgsql's
    /// own for a server that answers SSL Mode=Require without TLS.
    /// </summary>
    internal static string? TlsFailure(Exception ex)
    {
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Security.Authentication.AuthenticationException authentication)
            {
                return (authentication.InnerException?.Message ?? authentication.Message).TrimEnd('.');
            }

            if (inner is NpgsqlException && inner.Message.StartsWith("SSL connection requested. No SSL enabled connection", StringComparison.Ordinal))
            {
                return "the server has no TLS (" + inner.Message.TrimEnd('.') + ")";
            }
        }

        return null;
    }

    /// <summary>The fix for a pg_hba.conf refusal, by what its message says.</summary>
    internal static string HbaFix(string message) =>
        message.EndsWith("no encryption", StringComparison.Ordinal)
            ? "pg_hba.conf refuses this user unencrypted connections from this host: add SSL Mode=Require to the connection string (or change pg_hba.conf)."
            : message.EndsWith("SSL encryption", StringComparison.Ordinal) || message.EndsWith("GSS encryption", StringComparison.Ordinal)
                ? "pg_hba.conf refuses this user encrypted connections from this host: use SSL Mode=Disable (or change pg_hba.conf)."
                : "pg_hba.conf has no line that lets this user connect to this database from this host: add one there (and reload the server), or connect as another user or from another host.";

    /// <summary>
    /// PostgreSQL's DETAIL of an error, or null when there is none or Npgsql withheld it (without 'Include Error Detail'
    /// Npgsql puts a sentence of its own there, which is not PostgreSQL's).
    /// </summary>
    internal static string? DetailOf(PostgresException ex) =>
        ex.Detail is { Length: > 0 } detail && !detail.StartsWith("Detail redacted", StringComparison.Ordinal) ? detail : null;

    /// <summary>
    /// A 42501's message, naming the object as PostgreSQL does. A denial inside a function (an administrator's trigger
    /// writing to another schema) is that function's privilege, not one of DbSync's statements, which are all 'dbsync
    /// test' checks: saying test names it sent users to a test that had passed.
    /// </summary>
    private static string PermissionMessage(PostgresException pg, string where) =>
        pg.Where is { Length: > 0 } context && context.Contains("function", StringComparison.OrdinalIgnoreCase)
            ? $"PostgreSQL at {where} denied a permission: {pg.MessageText}, in {context.ReplaceLineEndings(" / ")}. "
              + "That is a privilege a trigger, rule or function an administrator put on a synced table needs, not one of DbSync's own statements, so 'dbsync test' (Test-DbSyncConnection) does not check it: grant it to the role (or make the function SECURITY DEFINER) there."
            : $"PostgreSQL at {where} denied a permission: {pg.MessageText}. 'dbsync test' (Test-DbSyncConnection) names the grants DbSync's own statements need; a privilege a trigger or rule an administrator put on a synced table needs is not among them, and is granted there.";

    /// <summary>Turns a PostgreSQL or network failure into a DbSyncException with a stable id.</summary>
    public static DbSyncException Translate(Exception ex, NpgsqlConnectionStringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(ex);
        ArgumentNullException.ThrowIfNull(builder);
        if (ex is DbSyncException known)
        {
            return known;
        }

        var where = Describe(builder);
        if (ex is PostgresException pg)
        {
            return pg.SqlState switch
            {
                // pg_hba.conf's refusal is no verdict on the credentials: it never asked for them (target exploration, F8).
                "28000" when pg.MessageText.Contains("pg_hba.conf", StringComparison.Ordinal) => new DbSyncException(ErrorIds.AuthenticationFailed, DbSyncErrorCategory.PermissionDenied,
                    $"PostgreSQL at {where} refused the connection before any password was checked: {pg.MessageText}. {HbaFix(pg.MessageText)}", where, ex),
                "28P01" or "28000" => new DbSyncException(ErrorIds.AuthenticationFailed, DbSyncErrorCategory.PermissionDenied,
                    $"PostgreSQL at {where} refused the credentials: {pg.MessageText}", where, ex),
                "3D000" => new DbSyncException(ErrorIds.TargetDatabaseNotFound, DbSyncErrorCategory.ObjectNotFound,
                    $"PostgreSQL at {where}: {pg.MessageText}", where, ex),
                "42501" => new DbSyncException(ErrorIds.PermissionDenied, DbSyncErrorCategory.PermissionDenied, PermissionMessage(pg, where), where, ex),
                // A standby, or default_transaction_read_only set for the role or the database.
                "25006" => new DbSyncException(ErrorIds.PermissionDenied, DbSyncErrorCategory.PermissionDenied,
                    $"PostgreSQL at {where} accepts no writes in this session ({pg.MessageText}): it is a standby, or default_transaction_read_only is on for the role or the database. Connect to the primary, or turn that setting off for this role.", where, ex),
                "53300" => new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                    $"PostgreSQL at {where} refused the connection: {pg.MessageText} (the role's or the database's CONNECTION LIMIT, or max_connections, is reached).", where, ex),
                "23503" => new DbSyncException(ErrorIds.ForeignKeyViolation, DbSyncErrorCategory.InvalidData,
                    $"PostgreSQL rejected the data because of foreign key {pg.ConstraintName} on {pg.TableName}: {DetailOf(pg) ?? pg.MessageText}. The SQLite data has rows whose parent does not exist (SQLite does not enforce foreign keys by default). Nothing was written.",
                    pg.TableName, ex),
                _ when pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) =>
                    new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                        $"The connection to PostgreSQL at {where} failed: {pg.MessageText}", where, ex),
                _ => new DbSyncException(ErrorIds.TargetError, DbSyncErrorCategory.WriteError,
                    $"PostgreSQL at {where} failed ({pg.SqlState}): {pg.MessageText}{(pg.TableName is null ? "" : $" (table {pg.TableName})")}", where, ex),
            };
        }

        // Npgsql's own check before it answers the server's request for a password: the server was reached.
        if (ex is NpgsqlException && ex.Message.StartsWith("No password has been provided", StringComparison.Ordinal))
        {
            return new DbSyncException(ErrorIds.AuthenticationFailed, DbSyncErrorCategory.PermissionDenied,
                $"PostgreSQL at {where} asks for a password and none was given: put it in the connection string, -Credential, PGPASSWORD or a pgpass file (a scheduled task does not see the PGPASSWORD of an interactive shell).",
                where, ex);
        }

        // A Passfile the connection string names that is not there: a mistake in the connection string, not the network.
        if (ex is FileNotFoundException && builder.Passfile is { Length: > 0 } passfile && !File.Exists(passfile))
        {
            return new DbSyncException(ErrorIds.InvalidConnectionString, DbSyncErrorCategory.InvalidArgument,
                $"The pgpass file '{passfile}' that the connection string names (Passfile) does not exist.", passfile, ex);
        }

        // The server answered, and the TLS handshake failed or the server has no TLS: "cannot be reached" with a fix about
        // hosts, ports and firewalls sent the user the wrong way (target exploration, F20).
        if (TlsFailure(ex) is { } tls)
        {
            return new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                $"PostgreSQL at {where} answered, but the encrypted (TLS) connection failed: {tls}. {TlsFix}", where, ex);
        }

        // ObjectDisposedException: Npgsql's objects of a connection that broke mid-run.
        if (ex is NpgsqlException or SocketException or TimeoutException or IOException or ObjectDisposedException || ex.InnerException is SocketException or TimeoutException)
        {
            var reason = ex.InnerException is SocketException socket ? socket.Message : ex.Message;
            // A Command Timeout the user set ends a statement that waits too long the same way a network gone silent does:
            // most often it waited for a lock another session holds. Say both.
            if (builder.CommandTimeout > 0 && (ex is TimeoutException || ex.InnerException is TimeoutException))
            {
                return new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                    $"PostgreSQL at {where} did not answer within the Command Timeout ({builder.CommandTimeout} s): a statement waited that long, most often for a lock another session holds on a synced table (see pg_locks and pg_stat_activity there), or the network stopped answering. {reason}",
                    where, ex);
            }

            return new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                $"PostgreSQL at {where} cannot be reached: {reason}", where, ex);
        }

        if (ex is ArgumentException)
        {
            return new DbSyncException(ErrorIds.InvalidConnectionString, DbSyncErrorCategory.InvalidArgument,
                $"The PostgreSQL connection string is not valid: {ex.Message}", where, ex);
        }

        return new DbSyncException(ErrorIds.Unexpected, DbSyncErrorCategory.NotSpecified, $"{ex.GetType().Name}: {ex.Message}", where, ex);
    }

    /// <summary>
    /// Reads the tables of one schema, keyed by exact name, and the views, materialized views and foreign tables, and the
    /// sequences, indexes and types (<see cref="TargetTable.NameOnly"/>), which the planner refuses by name. An absent
    /// schema reads as empty.
    /// </summary>
    public static async Task<Dictionary<string, TargetTable>> ReadTablesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction,
        string schema, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var tables = new Dictionary<string, TargetTable>(StringComparer.Ordinal);
        using (var command = new NpgsqlCommand("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', c.alters, c.relkind = 'p', a.attgenerated <> '',
                   CASE c.relkind WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view' WHEN 'f' THEN 'a foreign table' END,
                   (SELECT string_agg(format('%s (%sON %s)', r.rulename, CASE WHEN r.is_instead THEN 'DO INSTEAD ' ELSE '' END,
                           CASE r.ev_type WHEN '2' THEN 'UPDATE' WHEN '3' THEN 'INSERT' ELSE 'DELETE' END), ', ' ORDER BY r.rulename)
                    FROM pg_rewrite AS r
                    WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN' AND r.ev_enabled <> 'D' AND (r.ev_type IN ('2', '3') OR r.ev_type = '4' AND r.is_instead)),
                   a.attidentity = 'a',
                   (SELECT array_agg(cn.nspname::text ORDER BY cn.nspname, ch.relname) FROM pg_inherits AS i JOIN pg_class AS ch ON ch.oid = i.inhrelid
                    JOIN pg_namespace AS cn ON cn.oid = ch.relnamespace WHERE i.inhparent = c.oid AND c.relkind = 'r'),
                   (SELECT array_agg(ch.relname::text ORDER BY cn.nspname, ch.relname) FROM pg_inherits AS i JOIN pg_class AS ch ON ch.oid = i.inhrelid
                    JOIN pg_namespace AS cn ON cn.oid = ch.relnamespace WHERE i.inhparent = c.oid AND c.relkind = 'r'),
                   (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation AS co JOIN pg_namespace AS cn ON cn.oid = co.collnamespace
                    WHERE co.oid = a.attcollation AND NOT co.collisdeterministic)
            FROM (SELECT c.oid, c.relname, c.relkind,
                    -- a trigger a DBA made (a BEFORE trigger can skip or change a row), a rule, row security
                    c.relrowsecurity
                    OR EXISTS (SELECT 1 FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D')
                    OR EXISTS (SELECT 1 FROM pg_rewrite AS r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN' AND r.ev_enabled <> 'D') AS alters
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) AS c
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(schema);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var name = reader.GetString(0);
                if (!tables.TryGetValue(name, out var table))
                {
                    tables[name] = table = new TargetTable
                    {
                        Name = name, AltersWrites = reader.GetBoolean(5), Partitioned = reader.GetBoolean(6), NotATable = reader.IsDBNull(8) ? null : reader.GetString(8),
                        BlockingRules = reader.IsDBNull(9) ? null : reader.GetString(9),
                        InheritedBy = reader.IsDBNull(11) ? null
                            : string.Join(", ", reader.GetFieldValue<string[]>(11).Zip(reader.GetFieldValue<string[]>(12), Identifiers.Quote)),
                    };
                }

                var formatted = reader.GetString(2);
                table.Columns.Add(new TargetColumn(reader.GetString(1), formatted, TypeMapping.FromPostgres(formatted), reader.GetBoolean(3), reader.GetBoolean(4))
                {
                    Generated = reader.GetBoolean(7), IdentityAlways = reader.GetBoolean(10), NondeterministicCollation = reader.IsDBNull(13) ? null : reader.GetString(13),
                });
            }
        }

        // Other objects whose name a new table cannot take: CREATE TABLE failed on them with a bare 42P07 or 42710. An
        // array type is left out: PostgreSQL renames one that is in the way of a new table's.
        using (var command = new NpgsqlCommand("""
            SELECT c.relname, CASE c.relkind WHEN 'S' THEN 'a sequence' WHEN 'c' THEN 'a composite type' WHEN 'i' THEN 'an index' WHEN 'I' THEN 'an index' ELSE 'a relation' END
            FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind NOT IN ('r', 'p', 'v', 'm', 'f')
            UNION ALL
            SELECT t.typname, CASE t.typtype WHEN 'e' THEN 'an enum type' WHEN 'd' THEN 'a domain' WHEN 'r' THEN 'a range type' WHEN 'm' THEN 'a multirange type' ELSE 'a type' END
            FROM pg_type AS t JOIN pg_namespace AS n ON n.oid = t.typnamespace
            WHERE n.nspname = $1 AND t.typrelid = 0 AND NOT EXISTS (SELECT 1 FROM pg_type AS e WHERE e.typarray = t.oid)
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(schema);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                tables.TryAdd(reader.GetString(0), new TargetTable { Name = reader.GetString(0), NotATable = reader.GetString(1), NameOnly = true });
            }
        }

        using (var command = new NpgsqlCommand("""
            SELECT c.relname, array_agg(a.attname ORDER BY k.ord), con.condeferrable, con.conname, con.contype = 'p'
            FROM pg_constraint con
            JOIN pg_class c ON c.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
            WHERE n.nspname = $1 AND con.contype IN ('p', 'u')
            GROUP BY c.relname, con.oid, con.condeferrable, con.conname, con.contype
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(schema);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!tables.TryGetValue(reader.GetString(0), out var table))
                {
                    continue;
                }

                if (reader.GetBoolean(2))
                {
                    table.DeferrableKeys.Add((reader.GetString(3), reader.GetBoolean(4), reader.GetFieldValue<string[]>(1)));
                }
                else
                {
                    table.UniqueKeys.Add(reader.GetFieldValue<string[]>(1));
                }
            }
        }

        return tables;
    }
}
