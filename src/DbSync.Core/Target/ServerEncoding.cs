using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Npgsql;

namespace DbSync.Core.Target;

/// <summary>
/// The PostgreSQL database's encoding when it is neither UTF8 nor SQL_ASCII. PostgreSQL converts all text it receives
/// into it, and a character it lacks fails the whole COPY (22P05) without naming a table or row: so text is checked
/// against it before it is sent, and such a value is refused by name like any other value PostgreSQL cannot hold
/// (docs/type-mapping.md). Only PostgreSQL's single-byte encodings are known (<see cref="ServerEncodingTables"/>); a
/// database in another (EUC_JP, MULE_INTERNAL, ...) is refused before anything is written.
/// </summary>
public sealed class ServerEncoding
{
    private static readonly ConcurrentDictionary<string, ServerEncoding> _known = new(StringComparer.Ordinal);

    /// <summary>One bit per character U+0000 to U+FFFF that the encoding has (every table lies in that range).</summary>
    private readonly ulong[] _holds = new ulong[65536 / 64];

    private ServerEncoding(string name, string highHalf)
    {
        Name = name;
        for (var c = 0; c < 0x80; c++)
        {
            _holds[c >> 6] |= 1UL << (c & 63);
        }

        foreach (var c in highHalf.Where(c => c != '\0'))
        {
            _holds[c >> 6] |= 1UL << (c & 63);
        }
    }

    /// <summary>The encoding's name, as PostgreSQL reports it in <c>server_encoding</c> (LATIN1, WIN1252, ...).</summary>
    public string Name { get; }

    /// <summary>
    /// The connection's database encoding, from the <c>server_encoding</c> PostgreSQL reports when it accepts the
    /// connection (no query); null when every character can be sent as it is (UTF8, SQL_ASCII).
    /// </summary>
    /// <exception cref="DbSyncException">The encoding is one DbSync cannot check text against.</exception>
    public static ServerEncoding? Of(NpgsqlConnection connection, string? target = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Resolve(connection.PostgresParameters.TryGetValue("server_encoding", out var name) ? name : null, target);
    }

    /// <summary>The encoding named <paramref name="name"/>; null for UTF8, SQL_ASCII or no name.</summary>
    /// <exception cref="DbSyncException">The encoding is one DbSync cannot check text against.</exception>
    public static ServerEncoding? Resolve(string? name, string? target = null)
    {
        if (IsTransparent(name))
        {
            return null;
        }

        return ServerEncodingTables.HighHalf.TryGetValue(name!, out var table)
            ? _known.GetOrAdd(name!, n => new ServerEncoding(n, table))
            : throw new DbSyncException(ErrorIds.TargetError, DbSyncErrorCategory.InvalidOperation, UnsupportedMessage(name!), target);
    }

    /// <summary>True when the database takes every character as it is sent: UTF8, and SQL_ASCII (which stores the bytes unchecked).</summary>
    public static bool IsTransparent(string? name) => string.IsNullOrEmpty(name) || name is "UTF8" or "SQL_ASCII";

    /// <summary>True when DbSync can check text against the encoding (or needs not).</summary>
    public static bool IsSupported(string? name) => IsTransparent(name) || ServerEncodingTables.HighHalf.ContainsKey(name!);

    /// <summary>Why a database in an encoding DbSync does not know is refused, and what to do.</summary>
    public static string UnsupportedMessage(string name) =>
        $"The PostgreSQL database's encoding is {name}, which DbSync cannot check text against: a character it lacks would fail every run " +
        "without naming the table or row. Sync into a database created with ENCODING 'UTF8' (which holds every character), or one in " +
        "a single-byte encoding (LATIN1 to LATIN10, ISO_8859_5 to 8, WIN866, WIN874, WIN1250 to WIN1258, KOI8R, KOI8U). Nothing was written.";

    /// <summary>The reason a value holding <paramref name="missing"/> is refused.</summary>
    public string Refusal(int missing) =>
        $"the text has the character U+{missing:X4}, which the PostgreSQL database's encoding {Name} does not have (a UTF8 database holds every character)";

    /// <summary>True when the encoding has every character of <paramref name="utf8"/>, which must be valid UTF-8; else the first it lacks.</summary>
    public bool CanHold(ReadOnlySpan<byte> utf8, out int missing)
    {
        missing = 0;
        var first = utf8.IndexOfAnyExceptInRange((byte)0, (byte)0x7F);
        if (first < 0)
        {
            return true;
        }

        utf8 = utf8[first..];
        while (!utf8.IsEmpty)
        {
            Rune.DecodeFromUtf8(utf8, out var rune, out var consumed);
            if (!Holds(rune.Value))
            {
                missing = rune.Value;
                return false;
            }

            utf8 = utf8[consumed..];
        }

        return true;
    }

    /// <summary>True when the encoding has every character of <paramref name="text"/>.</summary>
    public bool CanHold(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var rune in text.EnumerateRunes())
        {
            if (!Holds(rune.Value))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The text with each character the encoding lacks written as U+XXXX: a stand-in PostgreSQL can hold.</summary>
    public string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var escaped = new StringBuilder(text.Length + 16);
        foreach (var rune in text.EnumerateRunes())
        {
            if (Holds(rune.Value))
            {
                escaped.Append(rune.ToString());
            }
            else
            {
                escaped.Append("U+").Append(rune.Value.ToString("X4", CultureInfo.InvariantCulture));
            }
        }

        return escaped.ToString();
    }

    /// <summary>
    /// DbSync's own record of <paramref name="text"/> (a path, a host name, a run log message) in the connection's
    /// database: as it is where every character fits, else <see cref="Escape"/>d. An encoding DbSync cannot check (no sync
    /// runs there) leaves the text as it is.
    /// </summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(text))]
    public static string? Fit(NpgsqlConnection connection, string? text)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (text is null)
        {
            return null;
        }

        var name = connection.PostgresParameters.TryGetValue("server_encoding", out var reported) ? reported : null;
        return IsSupported(name) && Resolve(name) is { } encoding ? encoding.Escape(text) : text;
    }

    /// <summary>
    /// A row key as SQLite literals (quote(a) || ',' || quote(b)) that the encoding can hold: each text literal with a
    /// character it lacks becomes SQLite's <c>char(...)</c> of its code points, the same value in any SQLite encoding.
    /// </summary>
    public string SqliteLiterals(string literals)
    {
        ArgumentNullException.ThrowIfNull(literals);
        if (CanHold(literals))
        {
            return literals;
        }

        var result = new StringBuilder(literals.Length * 4);
        var i = 0;
        while (i < literals.Length)
        {
            if (literals[i] != '\'')
            {
                result.Append(literals[i++]);
                continue;
            }

            // A text literal: up to the quote that is not doubled.
            var content = new StringBuilder();
            var start = i++;
            while (i < literals.Length && !(literals[i] == '\'' && (i + 1 >= literals.Length || literals[i + 1] != '\'')))
            {
                content.Append(literals[i]);
                i += literals[i] == '\'' ? 2 : 1;
            }

            i++;
            var text = content.ToString();
            if (CanHold(text))
            {
                result.Append(literals, start, i - start);
                continue;
            }

            // SQLite takes at most 127 arguments per function unless built otherwise: 100 characters per char().
            var codePoints = text.EnumerateRunes().Select(r => r.Value.ToString(CultureInfo.InvariantCulture)).ToList();
            result.Append('(').Append(string.Join(" || ", codePoints.Chunk(100).Select(chunk => $"char({string.Join(", ", chunk)})"))).Append(')');
        }

        return result.ToString();
    }

    private bool Holds(int c) => c < 0x10000 && (_holds[c >> 6] & (1UL << (c & 63))) != 0;
}
