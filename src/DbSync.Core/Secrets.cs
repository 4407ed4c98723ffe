using System.Text.RegularExpressions;

namespace DbSync.Core;

/// <summary>
/// Keeps passwords out of messages, JSON fields and run log entries when a connection string ends up where something
/// else was expected: as the path, a --table pattern, an option's value or a stray argument.
/// </summary>
public static partial class Secrets
{
    /// <summary>The text with every <c>Password=…</c> / <c>Pwd=…</c> value replaced by <c>***</c>.</summary>
    /// <remarks>
    /// A value already redacted (<c>***</c> followed by a quote, a semicolon, a space or the end) is left alone, so that a
    /// message built around a redacted value and redacted again as a whole keeps the words after it: an unquoted value
    /// runs to the next semicolon, which in a message is usually its end.
    /// </remarks>
    public static string Redact(string text) => PasswordPattern().Replace(text ?? "", "$1=***");

    [GeneratedRegex(@"(?i)\b(password|pwd)\s*=\s*(?!\*\*\*(?:[;'""\s]|$))(""[^""]*""|'[^']*'|[^;]*)", RegexOptions.CultureInvariant)]
    private static partial Regex PasswordPattern();
}
