using System.Globalization;
using System.Security;
using System.Text;

namespace DbSync.Bench;

/// <summary>A hand-written SVG bar chart of throughput (rows/s) by scenario: no dependencies, readable in any browser.</summary>
internal static class ChartWriter
{
    private const int Width = 820;
    private const int LabelWidth = 260;
    private const int PlotWidth = 440;
    private const int RowHeight = 30;
    private const int Top = 56;

    public static string Render(IReadOnlyList<ChartBar> bars, string subtitle)
    {
        var height = Top + bars.Count * RowHeight + 40;
        var max = AxisMaximum(bars.Where(b => b.Outcome.Succeeded).Select(b => b.Outcome.Value!.RowsPerSecond).DefaultIfEmpty(1).Max());
        var svg = new StringBuilder();
        Line(svg, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{height}" viewBox="0 0 {Width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">""");
        Line(svg, $"""  <rect width="{Width}" height="{height}" fill="#ffffff"/>""");
        Line(svg, $"""  <text x="16" y="24" font-size="16" font-weight="bold">DbSync benchmarks: throughput (rows/s, higher is better)</text>""");
        Line(svg, $"""  <text x="16" y="42" fill="#555555">{Escape(subtitle)}</text>""");
        for (var tick = 0; tick <= 4; tick++)
        {
            var x = LabelWidth + PlotWidth * tick / 4.0;
            var bottom = Top + bars.Count * RowHeight;
            Line(svg, $"""  <line x1="{x:0.#}" y1="{Top - 4}" x2="{x:0.#}" y2="{bottom}" stroke="#dddddd"/>""");
            Line(svg, $"""  <text x="{x:0.#}" y="{bottom + 16}" text-anchor="middle" fill="#555555">{Compact(max * tick / 4)}</text>""");
        }

        for (var i = 0; i < bars.Count; i++)
        {
            var bar = bars[i];
            var y = Top + i * RowHeight;
            Line(svg, $"""  <text x="{LabelWidth - 8}" y="{y + 19}" text-anchor="end">{Escape(bar.Label)}</text>""");
            if (bar.Outcome.Value is { } value)
            {
                var length = Math.Max(1, PlotWidth * value.RowsPerSecond / max);
                Line(svg, $"""  <rect x="{LabelWidth}" y="{y + 5}" width="{length:0.#}" height="{RowHeight - 10}" fill="{Color(bar.Label)}"/>""");
                Line(svg, $"""  <text x="{LabelWidth + length + 6:0.#}" y="{y + 19}">{Compact(value.RowsPerSecond)}</text>""");
            }
            else
            {
                Line(svg, $"""  <text x="{LabelWidth + 6}" y="{y + 19}" fill="#b00020">failed</text>""");
            }
        }

        Line(svg, $"</svg>");
        return svg.ToString();
    }

    /// <summary>A round number a little above the largest value, so the ticks read well.</summary>
    private static double AxisMaximum(double largest)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(Math.Max(largest, 1))));
        foreach (var step in new[] { 1, 2, 2.5, 4, 5, 10 })
        {
            if (step * magnitude >= largest)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }

    /// <summary>Scenario 1 blue, 2 green, 3 orange.</summary>
    private static string Color(string label) => label[0] switch
    {
        '1' => "#3366cc",
        '2' => "#2e8b57",
        _ => "#e08a1e",
    };

    private static string Compact(double value) => value switch
    {
        >= 1_000_000 => (value / 1_000_000).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (value / 1_000).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        _ => value.ToString("0", CultureInfo.InvariantCulture),
    };

    private static string Escape(string text) => SecurityElement.Escape(text);

    private static void Line(StringBuilder svg, FormattableString line) => svg.Append(FormattableString.Invariant(line)).Append('\n');
}
