using System.Text;

namespace DbSync.Core;

/// <summary>The one place identifiers become SQL text, for SQLite and PostgreSQL alike. No SQL is ever built from a value.</summary>
public static class Identifiers
{
    /// <summary>PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes of UTF-8.</summary>
    public const int PostgresMaxBytes = 63;

    /// <summary>Quotes an identifier with double quotes, doubling any inside. Valid in both SQLite and PostgreSQL.</summary>
    public static string Quote(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new DbSyncException(ErrorIds.SchemaMismatch, DbSyncErrorCategory.InvalidData,
                $"The name '{name.Replace("\0", "\\0", StringComparison.Ordinal)}' contains a NUL character, which no database accepts in a name.", name);
        }

        return "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>Quotes a schema-qualified PostgreSQL name.</summary>
    public static string Quote(string schema, string name) => Quote(schema) + "." + Quote(name);

    /// <summary>True when the name fits PostgreSQL's identifier limit.</summary>
    public static bool FitsPostgres(string name) => Encoding.UTF8.GetByteCount(name) <= PostgresMaxBytes;

    /// <summary>Converts a SQLite table or column name to the name DbSync creates in PostgreSQL.</summary>
    public static string ToTargetName(string name, bool preserveCase) => preserveCase ? name : name.ToLowerInvariant();
}
