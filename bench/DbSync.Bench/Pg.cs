using Npgsql;

namespace DbSync.Bench;

/// <summary>Small PostgreSQL helpers; every statement runs without a timeout.</summary>
internal static class Pg
{
    public static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Runs one statement and returns the rows it changed.</summary>
    public static async Task<long> ExecuteCountAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public static Task<long> CountAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken) =>
        ScalarAsync<long>(connection, $"SELECT count(*) FROM {table}", cancellationToken);

    /// <summary>
    /// The primary keys (first) and foreign keys of a schema's tables as <c>ALTER TABLE</c> statements with
    /// unqualified names, to replay in another schema by running them with that schema as search_path. This
    /// copies exactly the constraints DbSync created, DEFERRABLE clause included.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ConstraintStatementsAsync(NpgsqlConnection connection, string schema, bool foreignKeysOnly,
        CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"SET LOCAL search_path = {schema}", cancellationToken, transaction);
        await using var command = new NpgsqlCommand($"""
            SELECT format('ALTER TABLE %I ADD %s', c.relname, pg_get_constraintdef(k.oid))
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            WHERE k.connamespace = '{schema}'::regnamespace AND k.contype IN ({(foreignKeysOnly ? "'f'" : "'p', 'f'")})
            ORDER BY k.contype = 'f', c.relname, k.conname
            """, connection, transaction);
        var statements = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                statements.Add(reader.GetString(0));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return statements;
    }
}
