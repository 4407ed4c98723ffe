using Microsoft.Data.Sqlite;

// Another program writing to a SQLite file, for the fault tests: it commits small transactions of random inserts,
// updates, deletes and key changes to the `stream` and `stream_item` tables until the stop file appears, then
// prints how many transactions it committed. Usage: DbSync.TestWriter FILE SEED STOPFILE
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: DbSync.TestWriter FILE SEED STOPFILE");
    return 2;
}

var random = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = args[0], Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 120 }.ToString());
connection.Open();
var commits = 0;
while (!File.Exists(args[2]))
{
    using var transaction = connection.BeginTransaction();
    for (var i = 0; i < 1 + random.Next(8); i++)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var id = random.Next(1, 3000);
        command.CommandText = random.Next(6) switch
        {
            0 => $"INSERT OR IGNORE INTO stream (id, label, amount) VALUES ({id}, 'row {id} {random.Next()}', {random.NextDouble() * 100:0.###})",
            1 => $"UPDATE stream SET label = label || '+', amount = amount + 1 WHERE id = {id}",
            2 => $"DELETE FROM stream_item WHERE stream_id = {id}; DELETE FROM stream WHERE id = {id}",
            3 => $"INSERT OR IGNORE INTO stream_item (stream_id, n, note) SELECT id, {random.Next(1, 5)}, 'note' FROM stream WHERE id = {id}",
            4 => $"UPDATE stream_item SET note = note || '!' WHERE stream_id = {id}",
            _ => $"UPDATE OR IGNORE stream SET id = {3000 + random.Next(1_000_000)} WHERE id = {id} AND NOT EXISTS (SELECT 1 FROM stream_item WHERE stream_id = {id})",
        };
        command.ExecuteNonQuery();
    }

    transaction.Commit();
    commits++;
}

Console.WriteLine(commits);
return 0;
