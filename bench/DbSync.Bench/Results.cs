namespace DbSync.Bench;

/// <summary>Rows moved in a wall time.</summary>
internal sealed record Measurement(long Rows, TimeSpan Elapsed)
{
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? Rows / Elapsed.TotalSeconds : 0;
}

/// <summary>A measurement, or why there is none.</summary>
internal sealed record Outcome(Measurement? Value, string? Failure)
{
    public static Outcome Of(long rows, TimeSpan elapsed) => new(new Measurement(rows, elapsed), null);

    public static Outcome Failed(string reason) => new(null, reason);

    public bool Succeeded => Value is not null;
}

/// <summary>One product target: what was asked, what was measured, and whether it was met (null: not measurable).</summary>
internal sealed record TargetCheck(string Name, string Goal, string Measured, bool? Met)
{
    public string Verdict => Met switch
    {
        true => "met",
        false => "**MISSED**",
        null => "not measured",
    };

    /// <summary>Whether a measured figure meets its goal; null when there is no figure.</summary>
    public static bool? Judge(double? measured, Func<double, bool> meets) => measured is { } value ? meets(value) : null;
}

/// <summary>One bar of the throughput chart.</summary>
internal sealed record ChartBar(string Label, Outcome Outcome);

/// <summary>Peak resident memory of a DbSync load run in its own process.</summary>
internal sealed record MemoryProbe(long Rows, long PeakBytes, TimeSpan Elapsed)
{
    public double PeakMegabytes => PeakBytes / (1024.0 * 1024.0);
}

/// <summary>Everything one benchmark run found, for the report writer.</summary>
internal sealed record BenchReport(
    BenchOptions Options,
    MachineInfo Machine,
    string Engine,
    string PostgresVersion,
    string PostgresOrigin,
    DateTime StartedAt,
    TimeSpan Duration,
    InitialLoadResult Load,
    PushResult Push,
    CaptureOverheadResult Capture,
    OperationsResult Operations)
{
    /// <summary>Failed DbSync steps; any makes the exit code non-zero.</summary>
    public IEnumerable<string> Failures => Load.Failures.Concat(Push.Failures).Concat(Capture.Failures).Concat(Operations.Failures);

    public IEnumerable<TargetCheck> Targets => Load.Targets.Concat(Push.Targets).Concat(Capture.Targets).Concat(Operations.Targets);

    public IEnumerable<ChartBar> Bars => Load.Bars.Concat(Push.Bars).Concat(Capture.Bars).Concat(Operations.Bars);
}
