using System.Globalization;

namespace DbSync.Bench;

/// <summary>The command line of the benchmark.</summary>
internal sealed record BenchOptions(double Scale, bool Quick, string? OutPath, IReadOnlyList<string> Arguments, bool SkipPgloader = false)
{
    public const string Usage = """
        usage: dotnet run -c Release --project bench/DbSync.Bench -- [--quick] [--scale F] [--out FILE.md]

          --quick      about a tenth of the data (scale 0.1); combines with --scale by multiplication
          --scale F    multiplies the full sizes by F (0 < F <= 10), e.g. 0.005 for a smoke test
          --no-pgloader  do not run (or install) pgloader; its comparison is reported as not measured
          --out FILE   the Markdown report (default: docs/benchmarks.md in the repository); the chart is
                       written next to it with the extension .svg

        PostgreSQL: the connection string in DBSYNC_TEST_PG, else a throwaway server started with
        scripts/test-postgres.sh for the run.
        """;

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var scale = 1.0;
        var quick = false;
        string? outPath = null;
        var skipPgloader = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--scale":
                    var text = Next(args, ref i);
                    if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out scale) || !(scale > 0 && scale <= 10))
                    {
                        throw new ArgumentException($"--scale needs a number above 0 and at most 10, not '{text}'.");
                    }

                    break;
                case "--out":
                    outPath = Next(args, ref i);
                    break;
                case "--no-pgloader":
                    skipPgloader = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'.");
            }
        }

        return new BenchOptions(quick ? scale * 0.1 : scale, quick, outPath, args.ToList(), skipPgloader);
    }

    /// <summary>The command that reproduces this run, as written in the report.</summary>
    public string Command =>
        "dotnet run -c Release --project bench/DbSync.Bench" + (Arguments.Count > 0 ? " -- " + string.Join(' ', Arguments) : "");

    /// <summary>Scales a full-size row count, never below 1.</summary>
    public int Rows(int fullSize) => Math.Max(1, (int)Math.Round(fullSize * Scale));

    private static string Next(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count)
        {
            throw new ArgumentException($"{args[i]} needs a value.");
        }

        return args[++i];
    }
}
