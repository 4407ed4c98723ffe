using System.Globalization;
using Microsoft.Data.Sqlite;
using NpgsqlTypes;

namespace DbSync.Bench;

/// <summary>What a generated column holds; decides the SQLite declared type and how a value travels.</summary>
internal enum ColumnKind
{
    Integer,
    Real,
    Text,
    DateTime,
    Blob,
}

internal sealed record InventoryColumn(string Name, ColumnKind Kind, bool NotNull = true)
{
    public string DeclaredType => Kind switch
    {
        ColumnKind.Integer => "INTEGER",
        ColumnKind.Real => "REAL",
        ColumnKind.Text => "TEXT",
        ColumnKind.DateTime => "DATETIME",
        _ => "BLOB",
    };

    public NpgsqlDbType PostgresType => Kind switch
    {
        ColumnKind.Integer => NpgsqlDbType.Bigint,
        ColumnKind.Real => NpgsqlDbType.Double,
        ColumnKind.Text => NpgsqlDbType.Text,
        ColumnKind.DateTime => NpgsqlDbType.Timestamp,
        _ => NpgsqlDbType.Bytea,
    };
}

/// <summary>A generated table: an INTEGER PRIMARY KEY named id first, then its columns.</summary>
internal sealed record InventoryTable(string Name, IReadOnlyList<InventoryColumn> Columns, IReadOnlyList<string> ForeignKeys)
{
    public string CreateSql =>
        $"CREATE TABLE {Name} (id INTEGER PRIMARY KEY, " +
        string.Join(", ", Columns.Select(c => $"{c.Name} {c.DeclaredType}{(c.NotNull ? " NOT NULL" : "")}").Concat(ForeignKeys)) + ")";

    /// <summary>Every column name, id first.</summary>
    public IEnumerable<string> AllColumns => Columns.Select(c => c.Name).Prepend("id");
}

/// <summary>Row counts of a generated inventory.</summary>
internal sealed record InventorySize(int Hosts, int Domains, int Certificates)
{
    public static InventorySize Full { get; } = new(100_000, 50_000, 1_000_000);

    public long Total => (long)Hosts + Domains + Certificates;

    public InventorySize Scaled(double factor) => new(Scale(Hosts, factor), Scale(Domains, factor), Scale(Certificates, factor));

    public int RowsOf(InventoryTable table) =>
        table == Inventory.Hosts ? Hosts : table == Inventory.Domains ? Domains : Certificates;

    private static int Scale(int rows, double factor) => Math.Max(1, (int)Math.Round(rows * factor));
}

/// <summary>
/// The "infrastructure inventory" schema: hosts and domains, and certificates referencing both. Text, integers,
/// reals, ISO-8601 timestamp text in DATETIME columns and 64-byte blobs.
/// </summary>
internal static class Inventory
{
    public static InventoryTable Hosts { get; } = new("hosts",
    [
        new("hostname", ColumnKind.Text), new("ip_address", ColumnKind.Text), new("os", ColumnKind.Text, NotNull: false),
        new("cpu_cores", ColumnKind.Integer), new("memory_gb", ColumnKind.Real), new("datacenter", ColumnKind.Text),
        new("created_at", ColumnKind.DateTime), new("last_seen", ColumnKind.DateTime, NotNull: false),
    ], []);

    public static InventoryTable Domains { get; } = new("domains",
    [
        new("name", ColumnKind.Text), new("registrar", ColumnKind.Text, NotNull: false), new("dnssec", ColumnKind.Integer),
        new("expires_at", ColumnKind.DateTime, NotNull: false), new("created_at", ColumnKind.DateTime),
    ], []);

    public static InventoryTable Certificates { get; } = new("certificates",
    [
        new("host_id", ColumnKind.Integer), new("domain_id", ColumnKind.Integer), new("serial", ColumnKind.Text),
        new("issuer", ColumnKind.Text), new("subject", ColumnKind.Text), new("subject_alt_names", ColumnKind.Text),
        new("key_bits", ColumnKind.Integer), new("not_before", ColumnKind.DateTime), new("not_after", ColumnKind.DateTime),
        new("risk_score", ColumnKind.Real, NotNull: false), new("fingerprint", ColumnKind.Blob),
    ], ["FOREIGN KEY (host_id) REFERENCES hosts (id)", "FOREIGN KEY (domain_id) REFERENCES domains (id)"]);

    /// <summary>Parents first.</summary>
    public static IReadOnlyList<InventoryTable> Tables { get; } = [Hosts, Domains, Certificates];

    /// <summary>Opens a SQLite file for the benchmark's own writes (creating it when missing).</summary>
    public static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>
    /// Writes a new inventory file: one transaction, prepared inserts, every value from one seeded generator,
    /// so the same size always gives the same bytes of data.
    /// </summary>
    public static void Generate(string path, InventorySize size, int seed)
    {
        using (var connection = Open(path))
        {
            Execute(connection, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
            using var transaction = connection.BeginTransaction();
            foreach (var table in Tables)
            {
                Execute(connection, table.CreateSql, transaction);
            }

            var values = new InventoryValues(seed, size);
            foreach (var table in Tables)
            {
                using var insert = InsertCommand(connection, transaction, table);
                for (long id = 1; id <= size.RowsOf(table); id++)
                {
                    Bind(insert, values.Row(table, id));
                    insert.ExecuteNonQuery();
                }
            }

            transaction.Commit();
        }

        SqliteConnection.ClearAllPools();
    }

    /// <summary>A prepared INSERT of every column, parameters $p0 (id), $p1, ...</summary>
    public static SqliteCommand InsertCommand(SqliteConnection connection, SqliteTransaction? transaction, InventoryTable table)
    {
        var columns = table.AllColumns.ToList();
        return Prepare(connection, transaction,
            $"INSERT INTO {table.Name} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select((_, i) => Parameter(i)))})",
            columns.Count);
    }

    /// <summary>A prepared UPDATE of every column but the key ($p0), parameters in column order.</summary>
    public static SqliteCommand UpdateCommand(SqliteConnection connection, SqliteTransaction? transaction, InventoryTable table) =>
        Prepare(connection, transaction,
            $"UPDATE {table.Name} SET {string.Join(", ", table.Columns.Select((c, i) => $"{c.Name} = {Parameter(i + 1)}"))} WHERE id = $p0",
            table.Columns.Count + 1);

    /// <summary>Sets $p0, $p1, ... to the values in order.</summary>
    public static void Bind(SqliteCommand command, object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }
    }

    public static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Parameter(int i) => "$p" + i.ToString(CultureInfo.InvariantCulture);

    private static SqliteCommand Prepare(SqliteConnection connection, SqliteTransaction? transaction, string sql, int parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var i = 0; i < parameters; i++)
        {
            command.Parameters.Add(new SqliteParameter(Parameter(i), null));
        }

        command.Prepare();
        return command;
    }
}

/// <summary>Produces the inventory's column values from one seeded <see cref="Random"/>.</summary>
internal sealed class InventoryValues(int seed, InventorySize size)
{
    private static readonly DateTime _epoch = new(2016, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
    private static readonly string[] _roles = ["web", "db", "cache", "queue", "batch", "edge", "auth", "search"];
    private static readonly string[] _operatingSystems = ["Debian 12", "Ubuntu 22.04", "Ubuntu 24.04", "RHEL 9", "Windows Server 2022", "Alpine 3.20"];
    private static readonly string[] _datacenters = ["fra1", "ams3", "lon2", "nyc1", "sfo2", "sgp1", "syd1"];
    private static readonly string[] _registrars = ["Gandi", "Namecheap", "MarkMonitor", "OVH", "Cloudflare"];
    private static readonly string[] _issuers = ["Let's Encrypt R11", "DigiCert Global G2", "Sectigo RSA DV", "GlobalSign GCC R3", "Internal Root CA 2"];
    private static readonly long[] _cores = [2, 4, 8, 16, 32, 64];
    private static readonly long[] _keyBits = [256, 2048, 3072, 4096];

    private readonly Random _random = new(seed);

    /// <summary>Ids of parents a certificate may reference; grows when the push scenario inserts parents.</summary>
    public long MaxHostId { get; set; } = size.Hosts;

    public long MaxDomainId { get; set; } = size.Domains;

    /// <summary>A whole row, id first, in <see cref="InventoryTable.AllColumns"/> order.</summary>
    public object?[] Row(InventoryTable table, long id) =>
        table == Inventory.Hosts ? Host(id) : table == Inventory.Domains ? Domain(id) : Certificate(id);

    public int Next(int maxExclusive) => _random.Next(maxExclusive);

    public long NextId(long max) => _random.NextInt64(1, max + 1);

    private object?[] Host(long id) =>
    [
        id,
        FormattableString.Invariant($"{Pick(_roles)}-{id:000000}.{Pick(_datacenters)}.corp.example.net"),
        FormattableString.Invariant($"10.{_random.Next(256)}.{_random.Next(256)}.{_random.Next(1, 255)}"),
        _random.Next(20) == 0 ? null : Pick(_operatingSystems),
        Pick(_cores),
        Math.Round(_random.NextDouble() * 512, 2),
        Pick(_datacenters),
        Timestamp(),
        _random.Next(10) == 0 ? null : Timestamp(),
    ];

    private object?[] Domain(long id) =>
    [
        id,
        FormattableString.Invariant($"svc-{id:000000}.{Pick(_roles)}-{_random.Next(100):00}.example.com"),
        _random.Next(8) == 0 ? null : Pick(_registrars),
        (long)_random.Next(2),
        _random.Next(25) == 0 ? null : Timestamp(),
        Timestamp(),
    ];

    private object?[] Certificate(long id)
    {
        var host = NextId(MaxHostId);
        var domain = NextId(MaxDomainId);
        var fingerprint = new byte[64];
        _random.NextBytes(fingerprint);
        var notBefore = Moment();
        return
        [
            id,
            host,
            domain,
            _random.NextInt64().ToString("x16", CultureInfo.InvariantCulture) + _random.NextInt64().ToString("x16", CultureInfo.InvariantCulture),
            Pick(_issuers),
            FormattableString.Invariant($"CN=svc-{domain:000000}.example.com, O=Example Corp, C=DE"),
            FormattableString.Invariant($"DNS:svc-{domain:000000}.example.com, DNS:www.svc-{domain:000000}.example.com"),
            Pick(_keyBits),
            Format(notBefore),
            Format(notBefore.AddDays(90 + _random.Next(700))),
            _random.Next(5) == 0 ? null : _random.NextDouble() * 10,
            fingerprint,
        ];
    }

    private T Pick<T>(T[] items) => items[_random.Next(items.Length)];

    /// <summary>ISO-8601 local date and time, e.g. 2021-03-04T05:06:07.</summary>
    private string Timestamp() => Format(Moment());

    private DateTime Moment() => _epoch.AddSeconds(_random.Next(10 * 365 * 86_400));

    private static string Format(DateTime moment) => moment.ToString("s", CultureInfo.InvariantCulture);
}
