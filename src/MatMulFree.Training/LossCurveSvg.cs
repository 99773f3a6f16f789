using System.Globalization;
using System.Text;

namespace MatMulFree.Training;

/// <summary>
/// A run's loss curve as a small self-contained SVG (no plotting library on this machine): the
/// loss of every step, a moving average over it, axes with a few labelled ticks.
/// </summary>
public static class LossCurveSvg
{
    public static string Render(IReadOnlyList<StepMetrics> steps, string title, int width = 720, int height = 360)
    {
        if (steps.Count == 0) throw new TrainingException($"{title}: no steps to plot");
        const int left = 60, right = 20, top = 36, bottom = 44;
        double plotWidth = width - left - right, plotHeight = height - top - bottom;
        long firstStep = steps[0].Step, lastStep = Math.Max(steps[^1].Step, firstStep + 1);
        double low = Math.Floor(steps.Min(s => s.Loss) * 10) / 10, high = Math.Ceiling(steps.Max(s => s.Loss) * 10) / 10;
        if (high - low < 1e-6) high = low + 1;
        string X(long step) => F(left + plotWidth * (step - firstStep) / (lastStep - firstStep));
        string Y(double loss) => F(top + plotHeight * (high - loss) / (high - low));

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{Escape(title)}</text>\n");
        for (int i = 0; i <= 4; i++)
        {
            double loss = low + (high - low) * i / 4;
            long step = firstStep + (lastStep - firstStep) * i / 4;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{Y(loss)}\" y2=\"{Y(loss)}\" stroke=\"#ddd\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{Y(loss)}\" text-anchor=\"end\" dy=\"4\">{loss:F2}</text>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(step)}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{step}</text>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + plotWidth / 2}\" y=\"{height - 8}\" text-anchor=\"middle\">step</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{top + plotHeight / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {top + plotHeight / 2})\">loss (nats/token)</text>\n");
        svg.Append("<polyline fill=\"none\" stroke=\"#9ecae1\" stroke-width=\"1\" points=\"")
           .AppendJoin(' ', steps.Select(s => $"{X(s.Step)},{Y(s.Loss)}")).Append("\"/>\n");
        int window = Math.Max(1, steps.Count / 50);
        var smooth = steps.Select((s, i) => (s.Step, Loss: steps.Skip(Math.Max(0, i - window + 1)).Take(Math.Min(window, i + 1)).Average(x => x.Loss)));
        svg.Append("<polyline fill=\"none\" stroke=\"#08519c\" stroke-width=\"2\" points=\"")
           .AppendJoin(' ', smooth.Select(p => $"{X(p.Step)},{Y(p.Loss)}")).Append("\"/>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string F(double value) => value.ToString("F1", CultureInfo.InvariantCulture);

    private static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
