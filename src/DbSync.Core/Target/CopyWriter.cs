using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace DbSync.Core.Target;

/// <summary>
/// Writes rows in PostgreSQL's binary COPY format (a header, then per row a field count and per field a length and
/// the value in the type's binary send format) into a buffer that goes to the server in 64 KiB writes. It replaces
/// Npgsql's binary importer on the bulk paths: that one resolves a converter and runs an async state machine for
/// every value, about half of the load's client time; here a value is a few stores into an array.
/// It also writes every date exactly: Npgsql's importer sends DateTime.MinValue/MaxValue (0001-01-01,
/// 9999-12-31 23:59:59.9999999) and DateOnly.MinValue/MaxValue as -infinity/infinity.
/// </summary>
/// <remarks>The caller sends the buffered bytes with <see cref="Finish"/>; until then nothing is complete.</remarks>
public sealed class CopyWriter
{
    private const long PostgresEpochTicks = 630_822_816_000_000_000; // 2000-01-01T00:00:00
    private const int PostgresEpochDayNumber = 730_119; // DateOnly(2000, 1, 1).DayNumber
    private static readonly UTF8Encoding _strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly byte[] _header = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _length;

    /// <summary>Starts a binary COPY on <paramref name="stream"/> (Npgsql's raw binary COPY stream).</summary>
    public CopyWriter(Stream stream)
    {
        _stream = stream ?? throw new ArgumentNullException(nameof(stream));
        Raw(_header);
    }

    /// <summary>Starts a row of <paramref name="fields"/> values.</summary>
    public void StartRow(int fields)
    {
        Reserve(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), checked((short)fields));
        _length += 2;
    }

    /// <summary>A NULL.</summary>
    public void WriteNull() => Length(-1);

    /// <summary>smallint</summary>
    public void WriteInt16(short value)
    {
        Length(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), value);
        _length += 2;
    }

    /// <summary>integer</summary>
    public void WriteInt32(int value)
    {
        Length(4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    /// <summary>bigint</summary>
    public void WriteInt64(long value)
    {
        Length(8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    /// <summary>real</summary>
    public void WriteFloat4(float value) => WriteInt32(BitConverter.SingleToInt32Bits(value));

    /// <summary>double precision</summary>
    public void WriteFloat8(double value) => WriteInt64(BitConverter.DoubleToInt64Bits(value));

    /// <summary>boolean</summary>
    public void WriteBoolean(bool value)
    {
        Length(1);
        _buffer[_length++] = value ? (byte)1 : (byte)0;
    }

    /// <summary>text (valid UTF-8 without NUL: the caller checked) or bytea: the bytes as they are.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        Length(value.Length);
        if (value.Length <= _buffer.Length - _length)
        {
            value.CopyTo(_buffer.AsSpan(_length));
            _length += value.Length;
            return;
        }

        Flush();
        _stream.Write(value);
    }

    /// <summary>text, from a string (refused if it holds a lone surrogate, which has no UTF-8).</summary>
    public void WriteText(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = _strictUtf8.GetByteCount(value);
        if (bytes + 4 > _buffer.Length - _length && bytes + 4 <= _buffer.Length)
        {
            Flush();
        }

        if (bytes + 4 <= _buffer.Length - _length)
        {
            Length(bytes);
            _length += _strictUtf8.GetBytes(value, _buffer.AsSpan(_length));
            return;
        }

        WriteBytes(_strictUtf8.GetBytes(value));
    }

    /// <summary>date</summary>
    public void WriteDate(DateOnly value) => WriteInt32(value.DayNumber - PostgresEpochDayNumber);

    /// <summary>timestamp or timestamptz: microseconds since 2000-01-01 (the value holds whole microseconds).</summary>
    public void WriteTimestamp(DateTime value) => WriteInt64((value.Ticks - PostgresEpochTicks) / TimeSpan.TicksPerMicrosecond);

    /// <summary>numeric: base-10000 digits with the decimal's own scale (so 12.50 keeps its two decimals).</summary>
    public void WriteNumeric(decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        var scale = (bits[3] >> 16) & 0xFF;
        var mantissa = ((UInt128)(uint)bits[2] << 64) | ((UInt128)(uint)bits[1] << 32) | (uint)bits[0];
        Span<char> mantissaDigits = stackalloc char[40];
        mantissa.TryFormat(mantissaDigits, out var count, default, CultureInfo.InvariantCulture);
        WriteNumeric(bits[3] < 0, mantissa == 0 ? [] : mantissaDigits[..count], scale);
    }

    /// <summary>
    /// numeric: the number <paramref name="digits"/> × 10^-<paramref name="scale"/> (decimal digits, no sign, no leading
    /// zeros, empty for zero), of any size PostgreSQL's numeric holds, with <paramref name="scale"/> as its display scale.
    /// </summary>
    public void WriteNumeric(bool negative, ReadOnlySpan<char> digits, int scale)
    {
        // The number's digits lined up on the decimal point, the whole part padded on the left and the fraction on
        // the right to groups of four: digits 1234567 with scale 3 is "0001 2345 6700" (1234.567).
        var count = digits.Length;
        var wholeDigits = Math.Max(count - scale, 0);
        var wholeGroups = (wholeDigits + 3) / 4;
        var fractionGroups = (scale + 3) / 4;
        var size = (wholeGroups + fractionGroups) * 4;
        // A double's digits can reach 330 places either side of the point; anything of a decimal's size stays on the stack.
        Span<char> padded = size <= 256 ? stackalloc char[size] : new char[size];
        padded.Fill('0');
        // The last digit is the fraction's last (scale-th) digit.
        var end = wholeGroups * 4 + scale;
        digits.CopyTo(padded[(end - count)..end]);
        Span<short> groups = size <= 256 ? stackalloc short[size / 4] : new short[size / 4];
        for (var g = 0; g < groups.Length; g++)
        {
            groups[g] = (short)(((padded[4 * g] - '0') * 1000) + ((padded[4 * g + 1] - '0') * 100) + ((padded[4 * g + 2] - '0') * 10) + (padded[4 * g + 3] - '0'));
        }

        var first = 0;
        while (first < groups.Length && groups[first] == 0)
        {
            first++;
        }

        var last = groups.Length;
        while (last > first && groups[last - 1] == 0)
        {
            last--;
        }

        var used = groups[first..last];
        Length(8 + 2 * used.Length);
        var span = _buffer.AsSpan(_length);
        BinaryPrimitives.WriteInt16BigEndian(span, (short)used.Length);
        BinaryPrimitives.WriteInt16BigEndian(span[2..], used.Length == 0 ? (short)0 : (short)(wholeGroups - 1 - first));
        BinaryPrimitives.WriteInt16BigEndian(span[4..], negative && used.Length > 0 ? (short)0x4000 : (short)0);
        BinaryPrimitives.WriteInt16BigEndian(span[6..], (short)scale);
        for (var i = 0; i < used.Length; i++)
        {
            BinaryPrimitives.WriteInt16BigEndian(span[(8 + 2 * i)..], used[i]);
        }

        _length += 8 + 2 * used.Length;
    }

    /// <summary>Writes the end marker and sends what is buffered; the caller then closes the COPY stream.</summary>
    public void Finish()
    {
        Reserve(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), -1);
        _length += 2;
        Flush();
    }

    /// <summary>Makes room for a field's length and its first bytes, then writes the length.</summary>
    private void Length(int length)
    {
        Reserve(4 + Math.Clamp(length, 0, 64));
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), length);
        _length += 4;
    }

    private void Reserve(int bytes)
    {
        if (_length + bytes > _buffer.Length)
        {
            Flush();
        }
    }

    private void Raw(ReadOnlySpan<byte> bytes)
    {
        Reserve(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Flush()
    {
        if (_length > 0)
        {
            _stream.Write(_buffer, 0, _length);
            _length = 0;
        }
    }
}
