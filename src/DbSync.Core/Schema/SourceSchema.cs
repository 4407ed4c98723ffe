using Microsoft.Data.Sqlite;

namespace DbSync.Core.Schema;

/// <summary>A column of a SQLite table as declared.</summary>
/// <param name="Name">Column name.</param>
/// <param name="DeclaredType">The declared type text, possibly empty.</param>
/// <param name="NotNull">Declared NOT NULL.</param>
/// <param name="KeyPosition">1-based position in the primary key, 0 when not a key column.</param>
public sealed record SourceColumn(string Name, string DeclaredType, bool NotNull, int KeyPosition)
{
    /// <summary>A generated column (VIRTUAL or STORED): SQLite computes its value, which no statement may set.</summary>
    public bool Generated { get; init; }
}

/// <summary>A foreign key of a SQLite table.</summary>
/// <param name="ParentTable">The referenced table.</param>
/// <param name="Columns">Referencing columns, in order.</param>
/// <param name="ParentColumns">Referenced columns, or empty when the parent's primary key is meant.</param>
public sealed record SourceForeignKey(string ParentTable, IReadOnlyList<string> Columns, IReadOnlyList<string> ParentColumns);

/// <summary>A column of a UNIQUE constraint or unique index, with the collation the index compares it by.</summary>
/// <param name="Name">Column name.</param>
/// <param name="Collation">The index's collation for it (BINARY, NOCASE, RTRIM or an application's).</param>
public sealed record UniqueColumn(string Name, string Collation);

/// <summary>
/// A key on which <c>INSERT OR REPLACE</c> and <c>UPDATE OR REPLACE</c> remove the rows that conflict with the row
/// written, without firing delete triggers: a UNIQUE constraint or unique index on plain columns, or the primary key when
/// one of its columns compares under a collation other than BINARY (NOCASE, RTRIM, an application's), which makes a
/// row stored under another spelling of the key (<c>'Abc'</c> for <c>'ABC'</c>) one that conflicts.
/// </summary>
/// <param name="Columns">The key's columns in index order, each with the collation the index compares it by.</param>
public sealed record UniqueKey(IReadOnlyList<UniqueColumn> Columns)
{
    /// <summary>A partial index's WHERE expression as written in its CREATE INDEX, or null: only rows it holds for are in the index.</summary>
    public string? Where { get; init; }

    /// <summary>The columns <see cref="Where"/> names (any name in it that is one of the table's columns).</summary>
    public IReadOnlyList<string> WhereColumns { get; init; } = [];

    /// <summary>
    /// True when <see cref="Where"/> may read a column by a name that is not the column's own (the rowid, under
    /// <c>rowid</c>, <c>oid</c> or <c>_rowid_</c>), so the columns an update must change to matter are not known.
    /// </summary>
    public bool WhereReadsRowid { get; init; }

    /// <summary>True for the primary key.</summary>
    public bool PrimaryKey { get; init; }

    /// <summary>How a message names the key: <c>UNIQUE (email) WHERE active = 1</c>, <c>PRIMARY KEY (k COLLATE NOCASE)</c>.</summary>
    public string Description => PrimaryKey
        ? "PRIMARY KEY (" + string.Join(", ", Columns.Select(c => string.Equals(c.Collation, "BINARY", StringComparison.OrdinalIgnoreCase) ? c.Name : $"{c.Name} COLLATE {c.Collation}")) + ")"
        : "UNIQUE (" + string.Join(", ", Columns.Select(c => c.Name)) + ")" + (Where is null ? "" : " WHERE " + Where);
}

/// <summary>A SQLite table: its columns, key and foreign keys.</summary>
public sealed class SourceTable
{
    /// <summary>Creates a table description.</summary>
    public SourceTable(string name, IReadOnlyList<SourceColumn> columns, IReadOnlyList<SourceForeignKey> foreignKeys, bool isVirtual)
    {
        Name = name;
        Columns = columns;
        ForeignKeys = foreignKeys;
        IsVirtual = isVirtual;
        KeyColumns = columns.Where(c => c.KeyPosition > 0).OrderBy(c => c.KeyPosition).ToList();
    }

    /// <summary>Table name as declared.</summary>
    public string Name { get; }

    /// <summary>All columns in declaration order (generated columns included, hidden columns of virtual tables not).</summary>
    public IReadOnlyList<SourceColumn> Columns { get; }

    /// <summary>Primary key columns in key order; empty when the table has no primary key.</summary>
    public IReadOnlyList<SourceColumn> KeyColumns { get; }

    /// <summary>Declared foreign keys.</summary>
    public IReadOnlyList<SourceForeignKey> ForeignKeys { get; }

    /// <summary>A virtual table (FTS, R-Tree, ...): triggers cannot be put on it.</summary>
    public bool IsVirtual { get; }

    /// <summary>
    /// The UNIQUE constraints and unique indexes whose columns are all plain columns (an index on an expression is left
    /// out), partial ones included, and the primary key when a column of it compares under a collation other than
    /// BINARY. <c>INSERT OR REPLACE</c> and <c>UPDATE OR REPLACE</c> remove the rows that conflict on them without
    /// firing delete triggers.
    /// </summary>
    public IReadOnlyList<UniqueKey> UniqueKeys { get; init; } = [];

    /// <summary>
    /// A key column compared under a collation that DbSync's connection does not have (one the application registers in
    /// its own), with that collation's name; null when there is none. Reading the table's changes by key needs it.
    /// </summary>
    public (string Column, string Collation)? UnknownKeyCollation { get; init; }

    /// <summary>A WITHOUT ROWID table.</summary>
    public bool WithoutRowid { get; init; }

    /// <summary>
    /// The key is one INTEGER PRIMARY KEY column that is the rowid itself, so it is never NULL (not so for a WITHOUT
    /// ROWID table or a key declared DESC).
    /// </summary>
    public bool KeyIsRowid { get; init; }

    /// <summary>True when the table has a primary key and can be synced.</summary>
    public bool HasKey => KeyColumns.Count > 0;

    /// <summary>Why the table can never be synced ("has no primary key"), or null when it can be.</summary>
    public string? UnsyncableReason => IsVirtual ? "is a virtual table (triggers cannot capture its changes)" : !HasKey ? "has no primary key" : null;

    /// <summary>The table's CREATE statement as SQLite keeps it (<c>sqlite_master.sql</c>).</summary>
    public string Definition { get; init; } = "";

    /// <summary>
    /// What the registry records at each sync: <see cref="ColumnSignature"/>, then a line (which no escaped name can
    /// begin with) holding a hash of <see cref="Definition"/>. Besides the columns, the definition changes when a column
    /// is dropped and added again, as a migration changing its DEFAULT does: SQLite rewrites every row without firing a
    /// trigger, so such a table must be copied again.
    /// </summary>
    public string RecordedSignature => ColumnSignature + "\n" + DefinitionMarker + DefinitionHash;

    /// <summary>
    /// True when a recorded signature (the registry's, from the last sync) is this table's: its columns, and its
    /// definition when the signature holds one (an earlier DbSync recorded the columns alone).
    /// </summary>
    public bool MatchesRecorded(string recorded) =>
        recorded == (RecordedDefinition(recorded) is null ? ColumnSignature : RecordedSignature);

    /// <summary>The column names a recorded signature holds, in table order; none for an empty one (never synced).</summary>
    public static IReadOnlyList<string> RecordedColumns(string recorded)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        return recorded.Length == 0
            ? []
            : recorded.Split('\n').Where(line => !line.StartsWith(DefinitionMarker, StringComparison.Ordinal))
                .Select(line => UnescapeSignature(line.Split('\t')[0])).ToList();
    }

    /// <summary>The declared type a recorded signature holds for a column (by SQLite's rules for names), or null when it holds no such column.</summary>
    public static string? RecordedType(string recorded, string column)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        return recorded.Length == 0
            ? null
            : recorded.Split('\n').Where(line => !line.StartsWith(DefinitionMarker, StringComparison.Ordinal)).Select(line => line.Split('\t'))
                .Where(fields => fields.Length >= 2 && Identifiers.SqliteNames.Equals(UnescapeSignature(fields[0]), column))
                .Select(fields => UnescapeSignature(fields[1])).FirstOrDefault();
    }

    /// <summary>The definition hash a recorded signature holds, or null when an earlier DbSync recorded the columns alone.</summary>
    public static string? RecordedDefinition(string recorded)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        return recorded.Split('\n').FirstOrDefault(line => line.StartsWith(DefinitionMarker, StringComparison.Ordinal))?[DefinitionMarker.Length..];
    }

    /// <summary>Begins the definition line of a recorded signature.</summary>
    private const string DefinitionMarker = "\u001Fh";

    /// <summary>A short hash of <see cref="Definition"/>.</summary>
    public string DefinitionHash => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Definition)), 0, 12);

    /// <summary>A text that changes whenever a column is added, dropped, renamed or retyped.</summary>
    public string ColumnSignature => string.Join("\n", Columns.Select(c => EscapeSignature(c.Name) + "\t" + EscapeSignature(c.DeclaredType) + "\t" + c.KeyPosition));

    /// <summary>
    /// Escapes the signature separators (tab, newline) a SQLite name may contain, so a name like "a&lt;TAB&gt;b" is one
    /// field. Names without tab, newline or U+001F, that is every signature already stored, are unchanged.
    /// </summary>
    public static string EscapeSignature(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.AsSpan().IndexOfAny('\t', '\n', '\u001F') < 0
            ? text
            : text.Replace("\u001F", "\u001F\u001F", StringComparison.Ordinal).Replace("\t", "\u001Ft", StringComparison.Ordinal).Replace("\n", "\u001Fn", StringComparison.Ordinal);
    }

    /// <summary>Reverses <see cref="EscapeSignature"/>.</summary>
    public static string UnescapeSignature(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Contains('\u001F', StringComparison.Ordinal))
        {
            return text;
        }

        var result = new System.Text.StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\u001F' && i + 1 < text.Length)
            {
                i++;
                result.Append(text[i] switch { 't' => '\t', 'n' => '\n', _ => text[i] });
            }
            else
            {
                result.Append(text[i]);
            }
        }

        return result.ToString();
    }
}

/// <summary>Reads table definitions from a SQLite file.</summary>
public static class SourceSchemaReader
{
    /// <summary>Prefix of every object DbSync adds to a SQLite file.</summary>
    public const string Prefix = "_dbsync_";

    /// <summary>The statements <see cref="ReadTables"/> lists the tables with: each reads the schema once.</summary>
    internal static readonly string[] TableListQueries =
    [
        "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main'",
        """
        SELECT m.name, m.sql FROM sqlite_master AS m
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND m.name NOT LIKE '\_dbsync\_%' ESCAPE '\'
        ORDER BY m.name
        """,
    ];

    /// <summary>Reads every user table (SQLite's own and DbSync's excluded).</summary>
    public static IReadOnlyList<SourceTable> ReadTables(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var names = new List<(string Name, bool IsVirtual, bool WithoutRowid, string Sql)>();
        // Read once each: joined to sqlite_master, the table-valued pragma was listed again for every table, and
        // listing 2,000 tables took seconds (scale exploration, F2).
        var listed = new Dictionary<string, (string Type, bool WithoutRowid)>(StringComparer.Ordinal);
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = TableListQueries[0];
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                listed[reader.GetString(0)] = (reader.GetString(1), reader.GetInt64(2) != 0);
            }
        }

        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = TableListQueries[1];
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var name = reader.GetString(0);
                var found = listed.TryGetValue(name, out var l);
                // Shadow tables hold an FTS5 or R-Tree table's index in its own format; they belong to the virtual
                // table, which is named in a warning, and are never synced on their own.
                if (found && l.Type == "shadow")
                {
                    continue;
                }

                var sql = reader.IsDBNull(1) ? "" : reader.GetString(1);
                names.Add((name, sql.TrimStart().StartsWith("CREATE VIRTUAL", StringComparison.OrdinalIgnoreCase), found && l.WithoutRowid, sql));
            }
        }

        return names.Select(n => ReadTable(connection, transaction, n.Name, n.IsVirtual, n.WithoutRowid, n.Sql)).ToList();
    }

    /// <summary>
    /// Tables the application named with DbSync's reserved prefix (<c>_dbsync_</c>, in any case) that are not DbSync's
    /// own: <see cref="ReadTables"/> leaves them out, so they are never synced, and a run names them in a warning.
    /// </summary>
    public static IReadOnlyList<string> ReadReservedNames(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT name FROM sqlite_master
            WHERE type = 'table' AND name LIKE '\_dbsync\_%' ESCAPE '\'
              AND name NOT IN ('_dbsync_tables', '_dbsync_meta', '_dbsync_runs', '_dbsync_held')
              AND NOT (name GLOB '_dbsync_log_[0-9]*' AND substr(name, 13) NOT GLOB '*[^0-9]*')
            ORDER BY name
            """;
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static SourceTable ReadTable(SqliteConnection connection, SqliteTransaction? transaction, string name, bool isVirtual, bool withoutRowid, string sql)
    {
        var columns = new List<SourceColumn>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT name, type, \"notnull\", pk, hidden FROM pragma_table_xinfo($t)";
            command.Parameters.AddWithValue("$t", name);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                // hidden = 1: a virtual table's hidden column; 2 and 3 are generated columns, which carry values.
                if (reader.GetInt32(4) == 1)
                {
                    continue;
                }

                columns.Add(new SourceColumn(reader.GetString(0), reader.IsDBNull(1) ? "" : reader.GetString(1).Trim(),
                    reader.GetInt64(2) != 0, reader.GetInt32(3)) { Generated = reader.GetInt32(4) is 2 or 3 });
            }
        }

        var foreignKeys = new List<SourceForeignKey>();
        if (!isVirtual)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "SELECT id, seq, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list($t) ORDER BY id, seq";
            command.Parameters.AddWithValue("$t", name);
            using var reader = command.ExecuteReader();
            var current = -1;
            string parent = "";
            var from = new List<string>();
            var to = new List<string>();
            void Flush()
            {
                if (current >= 0)
                {
                    foreignKeys.Add(new SourceForeignKey(parent, from.ToList(), to.Any(string.IsNullOrEmpty) ? [] : to.ToList()));
                }
            }

            while (reader.Read())
            {
                var id = reader.GetInt32(0);
                if (id != current)
                {
                    Flush();
                    current = id;
                    parent = reader.GetString(2);
                    from.Clear();
                    to.Clear();
                }

                from.Add(reader.GetString(3));
                to.Add(reader.IsDBNull(4) ? "" : reader.GetString(4));
            }

            Flush();
        }

        // An INTEGER PRIMARY KEY is the rowid itself (never NULL) unless the table is WITHOUT ROWID or the key is declared
        // DESC: then SQLite keeps the key in an index of its own (origin 'pk') and lets it hold NULL.
        var keyIsRowid = false;
        if (!isVirtual && !withoutRowid && columns.Count(c => c.KeyPosition > 0) == 1
            && string.Equals(columns.Single(c => c.KeyPosition > 0).DeclaredType, "INTEGER", StringComparison.OrdinalIgnoreCase))
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "SELECT count(*) FROM pragma_index_list($t) WHERE origin = 'pk'";
            command.Parameters.AddWithValue("$t", name);
            keyIsRowid = (long)command.ExecuteScalar()! == 0;
        }

        (string, string)? unknownCollation = null;
        if (!isVirtual && !keyIsRowid)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                SELECT x.name, x.coll FROM pragma_index_list($t) AS l, pragma_index_xinfo(l.name) AS x
                WHERE l.origin = 'pk' AND x."key" AND upper(x.coll) NOT IN ('BINARY', 'NOCASE', 'RTRIM') ORDER BY x.seqno
                """;
            command.Parameters.AddWithValue("$t", name);
            var collations = new List<(string, string)>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    collations.Add((reader.GetString(0), reader.GetString(1)));
                }
            }

            unknownCollation = collations.Cast<(string, string)?>().FirstOrDefault(c => !HasCollation(connection, transaction, c!.Value.Item2));
        }

        return new SourceTable(name, columns, foreignKeys, isVirtual)
        {
            UnknownKeyCollation = unknownCollation,
            WithoutRowid = withoutRowid,
            KeyIsRowid = keyIsRowid,
            Definition = sql,
            UniqueKeys = isVirtual ? [] : ReadUniqueKeys(connection, transaction, name, columns),
        };
    }

    /// <summary>
    /// True when this connection can compare by the collation. pragma_collation_list does not tell: reading a schema that
    /// names an application's collation lists it there, without the function.
    /// </summary>
    public static bool HasCollation(SqliteConnection connection, SqliteTransaction? transaction, string collation)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT 'a' = 'b' COLLATE {Identifiers.Quote(collation)}";
        try
        {
            command.ExecuteScalar();
            return true;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    private static List<UniqueKey> ReadUniqueKeys(SqliteConnection connection, SqliteTransaction? transaction, string name, IReadOnlyList<SourceColumn> columns)
    {
        // Every unique index with its key columns (cid -2 is an expression: such an index is left out), and its CREATE
        // statement for a partial one's WHERE. The primary key's own index is one only under a collation other than
        // BINARY: REPLACE of 'ABC' then removes the row 'Abc', which PostgreSQL stores as another key.
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT l.name, x.cid, x.name, x.coll, l.origin = 'pk', CASE WHEN l.partial THEN (SELECT m.sql FROM sqlite_master AS m WHERE m.type = 'index' AND m.name = l.name) END
            FROM pragma_index_list($t) AS l, pragma_index_xinfo(l.name) AS x
            WHERE l."unique" AND x."key" ORDER BY l.seq DESC, x.seqno
            """;
        command.Parameters.AddWithValue("$t", name);
        using var reader = command.ExecuteReader();
        var indexes = new List<(string Index, List<UniqueColumn>? Columns, bool PrimaryKey, string? Sql)>();
        while (reader.Read())
        {
            var index = reader.GetString(0);
            if (indexes.Count == 0 || indexes[^1].Index != index)
            {
                indexes.Add((index, [], reader.GetInt64(4) != 0, reader.IsDBNull(5) ? null : reader.GetString(5)));
            }

            if (reader.GetInt64(1) < 0 || reader.IsDBNull(2))
            {
                indexes[^1] = (index, null, false, null);
            }
            else
            {
                indexes[^1].Columns?.Add(new UniqueColumn(reader.GetString(2), reader.IsDBNull(3) ? "BINARY" : reader.GetString(3)));
            }
        }

        var keys = new List<UniqueKey>();
        foreach (var (_, keyColumns, primaryKey, sql) in indexes)
        {
            if (keyColumns is null || (primaryKey && keyColumns.All(c => string.Equals(c.Collation, "BINARY", StringComparison.OrdinalIgnoreCase))))
            {
                continue;
            }

            var where = sql is null ? null : IndexSql.WhereClause(sql);
            if (sql is not null && where is null)
            {
                // A partial index whose WHERE could not be found: left out, as an expression index is.
                continue;
            }

            var words = where is null ? [] : IndexSql.Names(where);
            keys.Add(new UniqueKey(keyColumns)
            {
                PrimaryKey = primaryKey,
                Where = where,
                WhereColumns = columns.Where(c => words.Contains(c.Name, StringComparer.OrdinalIgnoreCase)).Select(c => c.Name).ToList(),
                WhereReadsRowid = words.Any(w => w.Equals("rowid", StringComparison.OrdinalIgnoreCase) || w.Equals("oid", StringComparison.OrdinalIgnoreCase)
                    || w.Equals("_rowid_", StringComparison.OrdinalIgnoreCase)),
            });
        }

        return keys;
    }
}

/// <summary>Reads the WHERE clause of a partial index out of its CREATE INDEX statement.</summary>
internal static class IndexSql
{
    /// <summary>
    /// The expression after the WHERE that follows the column list, as written (comments and all), or null when there
    /// is none. Quoted names and strings, comments and parentheses are stepped over, so a WHERE inside them is not it.
    /// </summary>
    public static string? WhereClause(string sql)
    {
        var depth = 0;
        var listClosed = false;
        foreach (var (start, end, kind) in Tokens(sql))
        {
            if (kind == '(')
            {
                depth++;
            }
            else if (kind == ')')
            {
                depth--;
                listClosed |= depth == 0;
            }
            else if (kind == 'w' && depth == 0 && listClosed && sql.AsSpan(start, end - start).Equals("WHERE", StringComparison.OrdinalIgnoreCase))
            {
                var expression = sql[end..].Trim();
                return expression.Length == 0 ? null : expression;
            }
        }

        return null;
    }

    /// <summary>The names in an expression: bare words and quoted identifiers (a double-quoted text may be a string, which only adds a name).</summary>
    public static IReadOnlyList<string> Names(string expression)
    {
        var names = new List<string>();
        foreach (var (start, end, kind) in Tokens(expression))
        {
            var text = expression[start..end];
            switch (kind)
            {
                case 'w':
                    names.Add(text);
                    break;
                case '"':
                case '`':
                    names.Add(text[1..^1].Replace(new string(kind, 2), new string(kind, 1), StringComparison.Ordinal));
                    break;
                case '[':
                    names.Add(text[1..^1]);
                    break;
            }
        }

        return names;
    }

    /// <summary>
    /// SQLite's tokens as far as finding names and parentheses needs: words ('w'), quoted names ('"', '`', '['), strings
    /// ('\''), '(' and ')', anything else ('.'); whitespace and comments are skipped.
    /// </summary>
    private static IEnumerable<(int Start, int End, char Kind)> Tokens(string sql)
    {
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            var start = i;
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                var newline = sql.IndexOf('\n', i);
                i = newline < 0 ? sql.Length : newline + 1;
                continue;
            }

            if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                var close = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = close < 0 ? sql.Length : close + 2;
                continue;
            }

            if (c is '\'' or '"' or '`' or '[')
            {
                var closer = c == '[' ? ']' : c;
                i++;
                while (i < sql.Length)
                {
                    if (sql[i] == closer)
                    {
                        // A doubled quote is one quote inside the text; brackets have no escape.
                        if (closer != ']' && i + 1 < sql.Length && sql[i + 1] == closer)
                        {
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    i++;
                }

                yield return (start, i, c);
                continue;
            }

            if (char.IsLetter(c) || c == '_' || c > 127)
            {
                while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] is '_' or '$' || sql[i] > 127))
                {
                    i++;
                }

                yield return (start, i, 'w');
                continue;
            }

            i++;
            yield return (start, i, c is '(' or ')' ? c : '.');
        }
    }
}
