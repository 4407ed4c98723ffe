using DbSync.Core;
using Microsoft.Data.Sqlite;

namespace DbSync.Tests.Infrastructure;

/// <summary>
/// Another program holding a SQLite file's write lock from the moment a run reports <paramref name="phase"/> until
/// <see cref="Release"/>: pass <see cref="Progress"/> to the run.
/// </summary>
public sealed class FileLocker(string path, SyncPhase phase) : IDisposable
{
    private readonly SqliteConnection _connection = SyncFixture.OpenSqlite(path);
    private bool _locked;

    public IProgress<SyncProgress> Progress => new InlineProgress<SyncProgress>(p =>
    {
        if (p.Phase == phase && !_locked)
        {
            SyncFixture.Execute(_connection, "BEGIN EXCLUSIVE");
            _locked = true;
        }
    });

    /// <summary>Ends the lock (the lock was taken: the run reached the phase).</summary>
    public void Release()
    {
        Assert.True(_locked, $"the run never reported {phase}");
        SyncFixture.Execute(_connection, "COMMIT");
        _locked = false;
    }

    public void Dispose() => _connection.Dispose();
}
