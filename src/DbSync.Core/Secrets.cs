using System.Text.RegularExpressions;

namespace DbSync.Core;

/// <summary>Keeps passwords out of messages when a connection string ends up where a path was expected.</summary>
public static partial class Secrets
{
    /// <summary>The text with every <c>Password=…</c> / <c>Pwd=…</c> value replaced by <c>***</c>.</summary>
    public static string Redact(string text) => PasswordPattern().Replace(text ?? "", "$1=***");

    [GeneratedRegex(@"(?i)\b(password|pwd)\s*=\s*(""[^""]*""|'[^']*'|[^;]*)", RegexOptions.CultureInvariant)]
    private static partial Regex PasswordPattern();
}
