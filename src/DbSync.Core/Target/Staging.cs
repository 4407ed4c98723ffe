namespace DbSync.Core.Target;

/// <summary>Names of the bookkeeping columns of a run's staging tables (after the target's own columns).</summary>
internal static class Staging
{
    /// <summary>1-based row number in reading order: batches are ranges of it.</summary>
    public const string RowNumber = "_dbsync_n";
    /// <summary>The row no longer exists in SQLite: a delete.</summary>
    public const string Gone = "_dbsync_gone";
    /// <summary>The first pending change's kind (1 insert, 2 update, 3 delete); 0 in a full copy.</summary>
    public const string Op = "_dbsync_op";
    /// <summary>The first pending change's sequence number; null in a full copy.</summary>
    public const string Seq = "_dbsync_seq";
    /// <summary>The last pending change's sequence number; null in a full copy.</summary>
    public const string Last = "_dbsync_last";
    /// <summary>The key as SQLite literals (quote()), to address the row in SQLite again.</summary>
    public const string Literals = "_dbsync_lit";
    /// <summary>Why a value could not be converted; the row is quarantined and never applied.</summary>
    public const string Bad = "_dbsync_bad";
    /// <summary>The key as text, for a row whose key could not be converted.</summary>
    public const string KeyText = "_dbsync_keytext";
    /// <summary>The conflict's kind (ConflictKind), or null.</summary>
    public const string Conflict = "_dbsync_conflict";
    /// <summary>Source, Target or None once the policy decided.</summary>
    public const string Winner = "_dbsync_winner";
    /// <summary>The target row as it was, for a conflict: set for every row the classification found written by another writer.</summary>
    public const string TargetImage = "_dbsync_target";
    /// <summary>Newest policy: the source row's column is at least the target's.</summary>
    public const string Newer = "_dbsync_newer";
    /// <summary>Rewrite the target row as it is, so that it counts as this node's (adopted).</summary>
    public const string Touch = "_dbsync_touch";
    /// <summary>Do not apply the row (the target won, the row is held, or it is not this node's to delete).</summary>
    public const string Skip = "_dbsync_skip";
    /// <summary>Why the row is held back (PostgreSQL's error, or the conflict left by the Fail policy).</summary>
    public const string Held = "_dbsync_held";
    /// <summary>
    /// The file refused the target's version when the target last won this row's conflict (a held row, see
    /// <c>HeldRows.RefusedPrefix</c>): the target row is the conflict's other side whoever wrote it last.
    /// </summary>
    public const string Refused = "_dbsync_refused";

    /// <summary>Every bookkeeping column, to strip them from a row image.</summary>
    public static readonly string[] All = [RowNumber, Gone, Op, Seq, Last, Literals, Bad, KeyText, Conflict, Winner, TargetImage, Newer, Touch, Skip, Held, Refused];
}
