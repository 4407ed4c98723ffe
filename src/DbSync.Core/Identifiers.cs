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

    /// <summary>
    /// Compares names as SQLite does: ASCII letters case-insensitively, every other character exactly ('A' = 'a' but
    /// 'Ä' ≠ 'ä'), so two tables or columns SQLite keeps apart are never taken for one.
    /// </summary>
    public static StringComparer SqliteNames { get; } = new SqliteNameComparer();

    /// <summary>Converts a SQLite table or column name to the name DbSync creates in PostgreSQL.</summary>
    public static string ToTargetName(string name, bool preserveCase) => preserveCase ? name : name.ToLowerInvariant();
}

internal sealed class SqliteNameComparer : StringComparer
{
    public override int Compare(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            var difference = Fold(x[i]) - Fold(y[i]);
            if (difference != 0)
            {
                return difference;
            }
        }

        return x.Length - y.Length;
    }

    public override bool Equals(string? x, string? y) => Compare(x, y) == 0;

    public override int GetHashCode(string obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var hash = new HashCode();
        foreach (var c in obj)
        {
            hash.Add(Fold(c));
        }

        return hash.ToHashCode();
    }

    private static char Fold(char c) => char.IsAsciiLetterUpper(c) ? (char)(c + 32) : c;
}
