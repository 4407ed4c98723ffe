using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Tests.Infrastructure;

/// <summary>
/// Compares every row of SQLite tables with their PostgreSQL copies by a canonical text per value, written
/// independently of DbSync's converter: integers as integers, reals and numerics as decimals, timestamps and
/// dates as ISO text, blobs as hex.
/// </summary>
public static class TableComparer
{
    public static void AssertIdentical(string sqlitePath, string schema, IEnumerable<string>? tables = null, bool lowerCase = true)
    {
        using var sqlite = SyncFixture.OpenSqlite(sqlitePath);
        var names = tables?.ToList() ?? UserTables(sqlite);
        using var pg = TestServer.Open();
        var differences = new List<string>();
        foreach (var table in names)
        {
            var keys = KeyColumns(sqlite, table);
            var source = ReadSqlite(sqlite, table, keys);
            var target = ReadPostgres(pg, schema, lowerCase ? table.ToLowerInvariant() : table, keys.Select(k => lowerCase ? k.ToLowerInvariant() : k).ToList(),
                ColumnNames(sqlite, table).Select(c => lowerCase ? c.ToLowerInvariant() : c).ToList());
            foreach (var (key, row) in source)
            {
                if (!target.TryGetValue(key, out var other))
                {
                    differences.Add($"{table} {key}: missing in PostgreSQL");
                }
                else if (other != row)
                {
                    differences.Add($"{table} {key}: SQLite [{row}] PostgreSQL [{other}]");
                }
            }

            differences.AddRange(target.Keys.Where(k => !source.ContainsKey(k)).Select(k => $"{table} {k}: extra in PostgreSQL"));
        }

        Assert.True(differences.Count == 0, $"{differences.Count} difference(s):\n" + string.Join("\n", differences.Take(20)));
    }

    public static List<string> UserTables(SqliteConnection sqlite)
    {
        var list = new List<string>();
        using var command = sqlite.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_dbsync\\_%' ESCAPE '\\' ORDER BY name";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }

    public static List<string> KeyColumns(SqliteConnection sqlite, string table) => Columns(sqlite, table, keysOnly: true);

    private static List<string> ColumnNames(SqliteConnection sqlite, string table) => Columns(sqlite, table, keysOnly: false);

    private static List<string> Columns(SqliteConnection sqlite, string table, bool keysOnly)
    {
        using var command = sqlite.CreateCommand();
        command.CommandText = keysOnly
            ? "SELECT name FROM pragma_table_info($t) WHERE pk > 0 ORDER BY pk"
            : "SELECT name FROM pragma_table_info($t) ORDER BY cid";
        command.Parameters.AddWithValue("$t", table);
        using var reader = command.ExecuteReader();
        var list = new List<string>();
        while (reader.Read())
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }

    private static Dictionary<string, string> ReadSqlite(SqliteConnection sqlite, string table, List<string> keys)
    {
        using var command = sqlite.CreateCommand();
        command.CommandText = $"SELECT * FROM \"{table.Replace("\"", "\"\"")}\"";
        using var reader = command.ExecuteReader();
        return ReadRows(reader, keys, (r, i) => r.IsDBNull(i) ? "null" : CanonicalSqlite(r.GetValue(i), r.GetDataTypeName(i)));
    }

    private static Dictionary<string, string> ReadPostgres(NpgsqlConnection pg, string schema, string table, List<string> keys, List<string> columns)
    {
        using var command = new NpgsqlCommand(
            $"SELECT {string.Join(", ", columns.Select(c => "\"" + c.Replace("\"", "\"\"") + "\""))} FROM \"{schema.Replace("\"", "\"\"")}\".\"{table.Replace("\"", "\"\"")}\"", pg);
        using var reader = command.ExecuteReader();
        return ReadRows(reader, keys, (r, i) => r.IsDBNull(i) ? "null" : CanonicalPostgres(r.GetValue(i)));
    }

    private static Dictionary<string, string> ReadRows<TReader>(TReader reader, List<string> keys, Func<TReader, int, string> value)
        where TReader : System.Data.Common.DbDataReader
    {
        var ordinals = keys.Select(k => Enumerable.Range(0, reader.FieldCount).First(i => string.Equals(reader.GetName(i), k, StringComparison.OrdinalIgnoreCase))).ToList();
        var rows = new Dictionary<string, string>();
        while (reader.Read())
        {
            var values = Enumerable.Range(0, reader.FieldCount).Select(i => value(reader, i)).ToList();
            rows.Add(string.Join("|", ordinals.Select(o => values[o])), string.Join("|", values));
        }

        return rows;
    }

    private static string CanonicalSqlite(object value, string declared)
    {
        var type = declared.ToUpperInvariant();
        return value switch
        {
            long l when type.Contains("REAL") || type.Contains("DOUB") || type.Contains("FLOA") => Number((decimal)l),
            long l when type.StartsWith("BOOL") => l != 0 ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => Number((decimal)d),
            string s when type.StartsWith("DATETIME") || type.StartsWith("TIMESTAMP") => Timestamp(DateTime.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal)),
            string s when type == "DATE" => DateTime.Parse(s, CultureInfo.InvariantCulture).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            string s when type.StartsWith("NUMERIC") || type.StartsWith("DECIMAL") => Number(decimal.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)),
            string s => "'" + s + "'",
            byte[] b => "x" + Convert.ToHexString(b),
            _ => value.ToString() ?? "",
        };
    }

    private static string CanonicalPostgres(object value) => value switch
    {
        short s => s.ToString(CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture),
        decimal m => Number(m),
        double d => Number((decimal)d),
        float f => Number((decimal)f),
        bool b => b ? "true" : "false",
        DateTime t => Timestamp(t),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        string s => "'" + s + "'",
        byte[] b => "x" + Convert.ToHexString(b),
        _ => value.ToString() ?? "",
    };

    private static string Number(decimal d) => (d / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);

    private static string Timestamp(DateTime t) => t.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    /// <summary>Row count of a SQLite table.</summary>
    public static long Count(string path, string table)
    {
        using var sqlite = SyncFixture.OpenSqlite(path);
        using var command = sqlite.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM \"{table}\"";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Readable dump for failure messages.</summary>
    public static string Describe(IEnumerable<string> lines) => new StringBuilder().AppendJoin('\n', lines).ToString();
}
