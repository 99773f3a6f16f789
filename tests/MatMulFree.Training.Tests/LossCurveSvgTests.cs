using System.Xml.Linq;

namespace MatMulFree.Training.Tests;

public sealed class LossCurveSvgTests
{
    [Fact]
    public void LossCurveSvg_Render_IsWellFormedWithOnePointPerStep()
    {
        var steps = Enumerable.Range(1, 120).Select(i => new StepMetrics(i, 5.0 / Math.Sqrt(i), 1e-3, 1, 1024, 1, 0.1, 0.01, 0.2, 0, "h")).ToList();
        var svg = XDocument.Parse(LossCurveSvg.Render(steps, "run <demo> & co"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        var lines = svg.Root!.Elements(ns + "polyline").ToList();
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.Equal(120, l.Attribute("points")!.Value.Split(' ').Length));
        Assert.Contains(svg.Root.Elements(ns + "text"), t => t.Value == "run <demo> & co");
    }

    [Fact]
    public void LossCurveSvg_Render_RefusesNoSteps() =>
        Assert.Throws<TrainingException>(() => LossCurveSvg.Render([], "empty"));
}
