using System.Text;

namespace DbSync.Cli;

/// <summary>
/// stdout or stderr as the process got it, which may be closed (a daemon started with fd 1 closed, <c>&gt;&amp;-</c>) or
/// full (<c>&gt;&gt; /var/log/dbsync.json</c> on a full disk). A write that fails is dropped and remembered instead of
/// thrown: a sync that committed died by SIGABRT (exit 134, a stack trace) when its result could not be printed, and
/// the last-resort handler, writing its failure object to the same stream, failed again (ops exploration, F1). The exit
/// code stays the command's own.
/// </summary>
internal sealed class GuardedWriter(TextWriter inner) : TextWriter
{
    /// <summary>Why a write failed (the first failure), or null while every write went through.</summary>
    public string? Lost { get; private set; }

    /// <inheritdoc />
    public override Encoding Encoding => inner.Encoding;

    /// <inheritdoc />
    public override IFormatProvider FormatProvider => inner.FormatProvider;

    /// <inheritdoc />
    public override string NewLine
    {
        get => inner.NewLine;
#pragma warning disable CS8765 // TextWriter.NewLine's setter takes null as Environment.NewLine; the inner writer does that.
        set => inner.NewLine = value;
#pragma warning restore CS8765
    }

    /// <inheritdoc />
    public override void Write(char value) => Guard(() => inner.Write(value));

    /// <inheritdoc />
    public override void Write(string? value) => Guard(() => inner.Write(value));

    /// <inheritdoc />
    public override void Write(char[] buffer, int index, int count) => Guard(() => inner.Write(buffer, index, count));

    /// <inheritdoc />
    public override void WriteLine(string? value) => Guard(() => inner.WriteLine(value));

    /// <inheritdoc />
    public override void WriteLine() => Guard(inner.WriteLine);

    /// <inheritdoc />
    public override void Flush() => Guard(inner.Flush);

    private void Guard(Action write)
    {
        if (Lost is not null)
        {
            return;
        }

        try
        {
            write();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            Lost = ex.Message;
        }
    }
}
