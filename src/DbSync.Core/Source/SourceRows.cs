using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DbSync.Core.Source;

/// <summary>
/// A forward-only row reader on SQLite's own statement API, for the bulk paths (initial load, push). It runs on the
/// connection's handle, so inside whatever transaction the connection has open, and hands out values as SQLite
/// stores them: text as UTF-8 bytes that go to PostgreSQL without being decoded into strings. Microsoft.Data.Sqlite's
/// reader costs about 400 ns per value; this, a fraction.
/// </summary>
public sealed class SourceRows : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly nint _handle;
    private readonly bool _utf8Database;
    private readonly bool _bigEndian;
    private readonly byte[]?[] _converted;
    private char[] _chars = new char[256];
    private char[] _units = [];

    private SourceRows(sqlite3 db, sqlite3_stmt statement, string encoding)
    {
        _db = db;
        _statement = statement;
        // The statement's pointer, valid until Dispose: this reader owns the statement and is used by one thread.
        _handle = statement.DangerousGetHandle();
        _utf8Database = encoding == "UTF-8";
        _bigEndian = encoding == "UTF-16be";
        ColumnCount = raw.sqlite3_column_count(statement);
        _converted = _utf8Database ? [] : new byte[ColumnCount][];
    }

    /// <summary>Columns per row.</summary>
    public int ColumnCount { get; }

    /// <summary>Prepares a query; <paramref name="parameters"/> bind to $name placeholders.</summary>
    public static SourceRows Open(SqliteConnection connection, string sql, params (string Name, long Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        // Through the raw API too: Microsoft.Data.Sqlite refuses a command without the open transaction's object.
        return Open(connection.Handle ?? throw new InvalidOperationException("The SQLite connection is not open."), sql, parameters);
    }

    /// <summary>Prepares a query on a raw connection (such as a <see cref="SnapshotReader"/>'s).</summary>
    public static SourceRows Open(sqlite3 db, string sql, params (string Name, long Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(parameters);
        string encoding;
        SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(db, "PRAGMA encoding", out var pragma), db);
        using (pragma)
        {
            encoding = raw.sqlite3_step(pragma) == raw.SQLITE_ROW ? raw.sqlite3_column_text(pragma, 0).utf8_to_string() : "";
        }

        var rc = raw.sqlite3_prepare_v2(db, sql, out var statement);
        SqliteException.ThrowExceptionForRC(rc, db);
        foreach (var (name, value) in parameters)
        {
            var index = raw.sqlite3_bind_parameter_index(statement, name);
            if (index == 0)
            {
                statement.Dispose();
                throw new ArgumentException($"The query has no parameter {name}.", nameof(parameters));
            }

            raw.sqlite3_bind_int64(statement, index, value);
        }

        return new SourceRows(db, statement, encoding);
    }

    /// <summary>
    /// Prepares a query whose $name placeholders take values of any storage class as they are (null, long, double,
    /// string, byte[]): a bound value has no affinity, so selecting it reads back exactly that value.
    /// </summary>
    internal static SourceRows OpenWith(SqliteConnection connection, string sql, IReadOnlyList<(string Name, object? Value)> parameters)
    {
        var rows = Open(connection, sql);
        foreach (var (name, value) in parameters)
        {
            var index = raw.sqlite3_bind_parameter_index(rows._statement, name);
            var rc = value switch
            {
                null => raw.sqlite3_bind_null(rows._statement, index),
                long integer => raw.sqlite3_bind_int64(rows._statement, index, integer),
                double real => raw.sqlite3_bind_double(rows._statement, index, real),
                string text => raw.sqlite3_bind_text(rows._statement, index, text),
                // An empty array would bind as NULL.
                byte[] { Length: 0 } => raw.sqlite3_bind_zeroblob(rows._statement, index, 0),
                byte[] blob => raw.sqlite3_bind_blob(rows._statement, index, blob),
                _ => throw new ArgumentException($"A {value.GetType().Name} has no SQLite storage class.", nameof(parameters)),
            };
            if (index == 0 || rc != raw.SQLITE_OK)
            {
                rows.Dispose();
                throw new ArgumentException($"The query cannot bind {name}.", nameof(parameters));
            }
        }

        return rows;
    }

    /// <summary>Moves to the next row; false at the end.</summary>
    public bool Read()
    {
        var rc = raw.sqlite3_step(_statement);
        if (rc == raw.SQLITE_ROW)
        {
            return true;
        }

        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }

        return false;
    }

    /// <summary>The storage class of a value of the current row.</summary>
    public Target.StorageClass Storage(int ordinal) => (Native.Available ? Native.sqlite3_column_type(_handle, ordinal) : raw.sqlite3_column_type(_statement, ordinal)) switch
    {
        raw.SQLITE_INTEGER => Target.StorageClass.Integer,
        raw.SQLITE_FLOAT => Target.StorageClass.Real,
        raw.SQLITE_TEXT => Target.StorageClass.Text,
        raw.SQLITE_BLOB => Target.StorageClass.Blob,
        _ => Target.StorageClass.Null,
    };

    /// <summary>An INTEGER value (or any value converted by SQLite's rules).</summary>
    public long Int64(int ordinal) => Native.Available ? Native.sqlite3_column_int64(_handle, ordinal) : raw.sqlite3_column_int64(_statement, ordinal);

    /// <summary>A REAL value.</summary>
    public double Double(int ordinal) => Native.Available ? Native.sqlite3_column_double(_handle, ordinal) : raw.sqlite3_column_double(_statement, ordinal);

    /// <summary>A TEXT value as the UTF-8 bytes SQLite holds; valid until the next call on this reader.</summary>
    /// <remarks>In a UTF-8 database (nearly all) the text's own bytes, unconverted; a UTF-16 database's text is re-encoded.</remarks>
    public ReadOnlySpan<byte> Utf8(int ordinal) => _utf8Database ? Blob(ordinal) : ConvertedUtf8(ordinal);

    /// <summary>
    /// A UTF-16 database's text as UTF-8, converted here from the UTF-16 SQLite holds rather than by SQLite: text that is
    /// not valid UTF-16 (a lone surrogate) stays invalid, and is refused as such, instead of arriving with U+FFFD in its
    /// place or, as SQLite's own conversion does with a high surrogate followed by anything, merged with the next
    /// character into another, valid one. Valid until the next call for the same column.
    /// </summary>
    private ReadOnlySpan<byte> ConvertedUtf8(int ordinal)
    {
        // A TEXT value read as a BLOB is not converted (SQLite's documented TEXT to BLOB conversion: no change): the
        // text's UTF-16 bytes in the database's byte order.
        var utf16 = Blob(ordinal);
        if (utf16.IsEmpty)
        {
            return default;
        }

        var count16 = utf16.Length / 2;
        if (_units.Length < count16)
        {
            _units = new char[Math.Max(count16, _units.Length * 2)];
        }

        for (var i = 0; i < count16; i++)
        {
            _units[i] = _bigEndian ? (char)((utf16[2 * i] << 8) | utf16[(2 * i) + 1]) : (char)(utf16[2 * i] | (utf16[(2 * i) + 1] << 8));
        }

        // At most three bytes per unit (a surrogate pair's two units take four), and one for an odd byte.
        var needed = (count16 * 3) + 1;
        var converted = _converted[ordinal] is { } buffer && buffer.Length >= needed ? buffer : _converted[ordinal] = new byte[Math.Max(64, needed)];
        ReadOnlySpan<char> rest = _units.AsSpan(0, count16);
        var written = 0;
        while (true)
        {
            var status = System.Text.Unicode.Utf8.FromUtf16(rest, converted.AsSpan(written), out var read, out var count, replaceInvalidSequences: false);
            written += count;
            rest = rest[read..];
            if (status != System.Buffers.OperationStatus.InvalidData)
            {
                break;
            }

            // A lone surrogate: written as the three bytes its code unit would take, which no UTF-8 reader accepts, so the
            // value is refused as invalid text.
            var unit = rest[0];
            converted[written++] = (byte)(0xE0 | (unit >> 12));
            converted[written++] = (byte)(0x80 | ((unit >> 6) & 0x3F));
            converted[written++] = (byte)(0x80 | (unit & 0x3F));
            rest = rest[1..];
        }

        if (utf16.Length % 2 != 0)
        {
            // Half a code unit (text made by casting an odd-length blob): a byte no UTF-8 text has, so it is refused too.
            converted[written++] = 0xFF;
        }

        return converted.AsSpan(0, written);
    }

    /// <summary>A BLOB value; valid until the next call on this reader.</summary>
    public unsafe ReadOnlySpan<byte> Blob(int ordinal)
    {
        if (!Native.Available)
        {
            return raw.sqlite3_column_blob(_statement, ordinal);
        }

        // SQLite's documented order: the pointer first, then its length.
        var bytes = Native.sqlite3_column_blob(_handle, ordinal);
        var length = Native.sqlite3_column_bytes(_handle, ordinal);
        if (length == 0)
        {
            return default; // an empty BLOB's pointer is NULL
        }

        return bytes != 0 ? new ReadOnlySpan<byte>((void*)bytes, length)
            : throw new OutOfMemoryException($"SQLite could not make a {length}-byte value readable.");
    }

    /// <summary>A TEXT value decoded into a scratch buffer, for parsing; valid until the next call.</summary>
    public ReadOnlySpan<char> Chars(int ordinal)
    {
        var bytes = Utf8(ordinal);
        var needed = Encoding.UTF8.GetMaxCharCount(bytes.Length);
        if (_chars.Length < needed)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }

        return _chars.AsSpan(0, Encoding.UTF8.GetChars(bytes, _chars));
    }

    /// <summary>A TEXT value as a string.</summary>
    public string String(int ordinal) => Encoding.UTF8.GetString(Utf8(ordinal));

    /// <summary>Any value as text, for messages.</summary>
    public string Describe(int ordinal) => Storage(ordinal) switch
    {
        Target.StorageClass.Null => "NULL",
        Target.StorageClass.Integer => Int64(ordinal).ToString(System.Globalization.CultureInfo.InvariantCulture),
        Target.StorageClass.Real => Double(ordinal).ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        // Text that is not UTF-8 would show as U+FFFD, and two such keys alike: shown as SQL that finds the row (in a
        // UTF-16 file, its UTF-16 bytes, which CAST(... AS TEXT) reads there).
        Target.StorageClass.Text => System.Text.Unicode.Utf8.IsValid(Utf8(ordinal)) ? String(ordinal) : "CAST(x'" + Convert.ToHexString(_utf8Database ? Utf8(ordinal) : Blob(ordinal)) + "' AS TEXT)",
        _ => "x'" + Convert.ToHexString(Blob(ordinal)) + "'",
    };

    /// <inheritdoc />
    public void Dispose() => _statement.Dispose();

    /// <summary>
    /// The value getters called straight on the e_sqlite3 library SQLitePCLRaw runs on, with the statement's pointer:
    /// through SQLitePCLRaw each call also takes and releases a SafeHandle reference and goes through its provider,
    /// which cost about a tenth of the load's client time at 3 to 4 calls per value. Used only when that library is
    /// the one loaded (the same version answers through both); otherwise SQLitePCLRaw's calls are used.
    /// </summary>
    private static class Native
    {
        public static readonly bool Available = Probe();

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_column_type(nint statement, int ordinal);

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern long sqlite3_column_int64(nint statement, int ordinal);

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern double sqlite3_column_double(nint statement, int ordinal);

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern nint sqlite3_column_blob(nint statement, int ordinal);

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_column_bytes(nint statement, int ordinal);

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern int sqlite3_libversion_number();

        private static bool Probe()
        {
            if (raw.GetNativeLibraryName() != "e_sqlite3")
            {
                return false;
            }

            try
            {
                return sqlite3_libversion_number() == raw.sqlite3_libversion_number();
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                return false;
            }
        }
    }
}
